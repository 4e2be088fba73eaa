//! Linux enforcement: namespaces, mounts, rlimits, capabilities, Landlock and seccomp.

pub mod beneath;
pub mod cgroup;
pub mod exec;
pub mod fs_rules;
pub mod netns;
pub mod probe;
pub mod seccomp;
pub mod sys;
