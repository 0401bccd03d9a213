# SPDX-License-Identifier: BSL-1.0
"""Offline stand-in for @rules_cc//cc:cc_toolchain_config_lib.bzl."""

load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    _env_entry = "env_entry",
    _variable_with_value = "variable_with_value",
    _make_variable = "make_variable",
    _feature_set = "feature_set",
    _with_feature_set = "with_feature_set",
    _env_set = "env_set",
    _flag_group = "flag_group",
    _flag_set = "flag_set",
    _feature = "feature",
    _tool_path = "tool_path",
    _tool = "tool",
    _action_config = "action_config",
    _artifact_name_pattern = "artifact_name_pattern",
)

env_entry = _env_entry
variable_with_value = _variable_with_value
make_variable = _make_variable
feature_set = _feature_set
with_feature_set = _with_feature_set
env_set = _env_set
flag_group = _flag_group
flag_set = _flag_set
feature = _feature
tool_path = _tool_path
tool = _tool
action_config = _action_config
artifact_name_pattern = _artifact_name_pattern
