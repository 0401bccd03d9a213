// SPDX-License-Identifier: BSL-1.0
// Self-test of the Bazel/Boost wiring (see third_party/README.md).
#define BOOST_TEST_MODULE boost_wiring_test
#include <boost/test/unit_test.hpp>

#include <boost/context/fiber.hpp>
#include <boost/intrusive/list.hpp>
#include <boost/version.hpp>

#include <concepts>
#include <numeric>
#include <utility>
#include <vector>

namespace {

struct node : boost::intrusive::list_base_hook<> {
    explicit node(int v) : value(v) {}
    int value;
};

// Compiles only in C++20 mode.
template <std::integral T>
constexpr T twice(T x) { return x + x; }

}  // namespace

BOOST_AUTO_TEST_CASE(unit_test_framework_runs) {
    BOOST_TEST(BOOST_VERSION >= 107400);
    BOOST_TEST(twice(21) == 42);
}

BOOST_AUTO_TEST_CASE(checks_compare_values) {
    std::vector<int> v{1, 2, 3, 4};
    BOOST_TEST(std::accumulate(v.begin(), v.end(), 0) == 10);
    BOOST_CHECK_EQUAL(v.size(), 4u);
}

BOOST_AUTO_TEST_CASE(intrusive_list_links_nodes) {
    node a{1}, b{2}, c{3};
    boost::intrusive::list<node> list;
    list.push_back(a);
    list.push_back(b);
    list.push_front(c);
    BOOST_TEST(list.size() == 3u);
    BOOST_TEST(list.front().value == 3);
    BOOST_TEST(list.back().value == 2);
    list.erase(list.iterator_to(a));
    BOOST_TEST(list.size() == 1u + 1u);
    list.clear();  // unlink before the nodes are destroyed
    BOOST_TEST(list.empty());
}

// libboost_context links and switches: a fiber on Boost's own stack runs, yields once, resumes.
BOOST_AUTO_TEST_CASE(context_fiber_switches) {
    int steps = 0;
    boost::context::fiber f{[&steps](boost::context::fiber&& caller) {
        ++steps;
        caller = std::move(caller).resume();
        ++steps;
        return std::move(caller);
    }};
    f = std::move(f).resume();
    BOOST_TEST(steps == 1);
    f = std::move(f).resume();
    BOOST_TEST(steps == 2);
    BOOST_TEST(!f);
}
