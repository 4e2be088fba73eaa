//! Per-platform expectations of the escape suite: for every Linux escape test
//! (`tests/escape.rs`), what the macOS backend does about the same attack. Checked on every
//! platform: the table must name every Linux escape test exactly once, and every macOS test it
//! names must exist in `tests/escape_macos.rs` (which runs on macOS only: written, not run here).

#![allow(
    clippy::unwrap_used,
    reason = "tests: an unexpected error should fail the test with its message"
)]

/// What the macOS backend does about one attack.
#[derive(Debug, Clone, Copy)]
enum Mac {
    /// Mirrored by this test of `tests/escape_macos.rs` (same attack, macOS expectation).
    Runs(&'static str),
    /// Enforced by a rule of the generated profile, checked at profile level by this test of
    /// `tests/seatbelt_profile.rs` (here); no macOS run of the attack itself yet.
    Profile(&'static str),
    /// The attack does not exist on macOS (Linux-only interface).
    NotApplicable(&'static str),
    /// macOS provides no equivalent guarantee: reported as not enforced by `status()`.
    Gap(&'static str),
}

const MATRIX: &[(&str, Mac)] = &[
    (
        "sanity_command_runs_and_writes_workspace",
        Mac::Runs("sanity_command_runs_and_writes_workspace"),
    ),
    (
        "write_outside_by_absolute_path",
        Mac::Runs("write_outside_by_absolute_path_and_dotdot"),
    ),
    (
        "write_outside_by_dotdot",
        Mac::Runs("write_outside_by_absolute_path_and_dotdot"),
    ),
    (
        "write_outside_by_tmpdir",
        Mac::Runs("shared_tmp_is_not_writable_only_private_tmpdir"),
    ),
    (
        "write_through_symlink_to_outside",
        Mac::Runs("write_through_symlinks_to_outside"),
    ),
    (
        "write_through_dangling_symlink",
        Mac::Runs("write_through_symlinks_to_outside"),
    ),
    (
        "write_through_symlinked_ancestor",
        Mac::Runs("write_through_symlinks_to_outside"),
    ),
    (
        "hard_link_to_outside_file",
        Mac::Runs("hard_link_to_outside_file"),
    ),
    (
        "git_hooks_and_config_are_read_only",
        Mac::Runs("git_hooks_and_config_are_read_only"),
    ),
    (
        "read_ssh_secret_denied",
        Mac::Runs("read_ssh_secret_denied"),
    ),
    (
        "host_paths_outside_roots_are_invisible",
        Mac::Runs("host_paths_outside_roots_are_invisible"),
    ),
    (
        "chmod_truncate_xattr_outside_readable_root",
        Mac::Profile("every_policy_combination_is_well_formed"),
    ),
    (
        "mknod_denied",
        Mac::NotApplicable("mknod needs root on macOS and writes only where file-write* allows"),
    ),
    (
        "setuid_copy_denied",
        Mac::Gap(
            "no no-new-privs on macOS: a setuid binary the command can reach keeps its privileges (none inside the writable roots unless the host put one there)",
        ),
    ),
    (
        "ptrace_and_proc_mem_of_parent_denied",
        Mac::Profile("every_policy_combination_is_well_formed"),
    ),
    (
        "parent_environment_not_leaked",
        Mac::Runs("inherited_fds_closed_and_environment_scrubbed"),
    ),
    (
        "inherited_fds_closed",
        Mac::Runs("inherited_fds_closed_and_environment_scrubbed"),
    ),
    (
        "tiocsti_io_uring_unshare_clone3_x32_denied",
        Mac::NotApplicable("Linux syscalls"),
    ),
    (
        "i386_syscall_kills_process",
        Mac::NotApplicable("Linux syscall ABI"),
    ),
    (
        "fork_bomb_contained",
        Mac::Gap(
            "RLIMIT_NPROC counts every process of the uid on macOS: not set; no pid namespace",
        ),
    ),
    (
        "memory_bomb_contained",
        Mac::Gap("XNU does not enforce RLIMIT_DATA; only RLIMIT_AS when addressSpaceBytes is set"),
    ),
    (
        "grandchild_dies_with_sandbox",
        Mac::Gap(
            "no pid namespace: a process that leaves the helper's process group (setsid) survives",
        ),
    ),
    (
        "grandchild_dies_when_command_exits",
        Mac::Runs("grandchild_dies_when_command_exits"),
    ),
    (
        "network_none_sockets_denied",
        Mac::Runs("network_none_loopback_server_unreachable"),
    ),
    (
        "network_none_loopback_server_unreachable",
        Mac::Runs("network_none_loopback_server_unreachable"),
    ),
    (
        "abstract_and_path_unix_sockets_outside_denied",
        Mac::Profile("every_policy_combination_is_well_formed"),
    ),
    (
        "signals_to_host_processes_denied",
        Mac::Runs("signals_to_host_processes_denied"),
    ),
    (
        "proc_sys_and_dev_writes_denied",
        Mac::Profile("every_policy_combination_is_well_formed"),
    ),
    (
        "no_capabilities_and_no_new_privs",
        Mac::NotApplicable("Linux capabilities"),
    ),
    (
        "setup_failure_is_reported_not_run",
        Mac::Runs("setup_failure_is_reported_not_run"),
    ),
    (
        "network_allowlist_only_the_proxy_port",
        Mac::Runs("network_allowlist_only_the_proxy_port"),
    ),
    (
        "proc_root_and_cwd_links_stay_inside",
        Mac::NotApplicable("no /proc on macOS"),
    ),
    (
        "workspace_without_git_and_private_tmp_does_not_persist",
        Mac::Runs("shared_tmp_is_not_writable_only_private_tmpdir"),
    ),
    (
        "process_limit_via_pid_max",
        Mac::Gap("no pid namespace, no per-sandbox process limit"),
    ),
    (
        "reaper_mode_relays_status_and_kills_background_jobs",
        Mac::Runs("grandchild_dies_when_command_exits"),
    ),
    (
        "default_mode_command_is_pid_1_and_status_relayed",
        Mac::NotApplicable(
            "no pid namespace; status relay covered by sanity_command_runs_and_writes_workspace",
        ),
    ),
    (
        "allowlist_network_namespace_reaches_only_the_proxy",
        Mac::Runs("network_allowlist_only_the_proxy_port"),
    ),
    (
        "prewarmed_path_enforces_the_same_policy",
        Mac::NotApplicable("no prewarm mode on macOS (each command runs fresh)"),
    ),
    (
        "git_dir_redirects_and_missing_paths_held",
        Mac::Profile("hostile_workspace_on_disk_gets_git_carveouts_and_placeholders"),
    ),
    (
        "git_worktree_pointer_file_held",
        Mac::Profile("git_pointer_files_and_symlinks_are_carved_out"),
    ),
    (
        "git_init_in_a_plain_workspace_held",
        Mac::Profile("every_policy_combination_is_well_formed"),
    ),
    (
        "git_hooks_path_includes_and_submodule_dirs_held",
        Mac::Profile("hostile_workspace_on_disk_gets_git_carveouts_and_placeholders"),
    ),
    (
        "nested_repository_hooks_and_config_held",
        Mac::Profile("hostile_workspace_on_disk_gets_git_carveouts_and_placeholders"),
    ),
    (
        "missing_denied_home_path_uncreatable_when_home_is_writable",
        Mac::Profile("hostile_workspace_on_disk_gets_git_carveouts_and_placeholders"),
    ),
    (
        "forged_setup_failure_is_the_commands_result",
        Mac::Runs("setup_failure_is_reported_not_run"),
    ),
    (
        "network_none_has_its_own_empty_network_namespace",
        Mac::Gap("no network namespace: network none denies IP sockets instead (loopback too)"),
    ),
    (
        "proc_keys_and_host_wide_proc_files_hidden",
        Mac::NotApplicable("no /proc on macOS"),
    ),
    (
        "full_network_scopes_abstract_unix_sockets_unless_asked",
        Mac::NotApplicable("no abstract unix sockets on macOS"),
    ),
    (
        "memory_limit_counts_shared_memory_without_cgroups",
        Mac::Gap("no memory limit for the sandbox on macOS"),
    ),
    (
        "git_dangling_hooks_symlink_target_held",
        Mac::Profile("git_pointer_files_and_symlinks_are_carved_out"),
    ),
    (
        "git_symlinked_dot_git_cannot_be_replaced",
        Mac::Profile("git_pointer_files_and_symlinks_are_carved_out"),
    ),
];

/// Names of the `#[test]` functions of a test source file.
fn test_names(src: &str) -> Vec<String> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "#[test]"
            && let Some(next) = lines.get(i + 1)
            && let Some(rest) = next.trim().strip_prefix("fn ")
        {
            out.push(rest.split('(').next().unwrap_or("").to_string());
        }
    }
    out
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn matrix_names_every_linux_escape_test_once() {
    let linux = test_names(&read("tests/escape.rs"));
    assert!(linux.len() > 40, "parsed {} tests", linux.len());
    for t in &linux {
        let n = MATRIX.iter().filter(|(l, _)| l == t).count();
        assert_eq!(n, 1, "{t} must appear once in the macOS matrix");
    }
    for (l, _) in MATRIX {
        assert!(
            linux.iter().any(|t| t == l),
            "{l} is not a Linux escape test"
        );
    }
}

#[test]
fn matrix_points_at_existing_tests() {
    let mac = test_names(&read("tests/escape_macos.rs"));
    let profile = test_names(&read("tests/seatbelt_profile.rs"));
    for (l, m) in MATRIX {
        match m {
            Mac::Runs(t) => assert!(mac.iter().any(|x| x == t), "{l}: no macOS test {t}"),
            Mac::Profile(t) => assert!(profile.iter().any(|x| x == t), "{l}: no profile test {t}"),
            Mac::NotApplicable(why) | Mac::Gap(why) => assert!(!why.is_empty()),
        }
    }
    // Every macOS escape test is referenced (none is orphaned).
    for t in mac.iter().filter(|t| {
        *t != "probe_reports_seatbelt" && *t != "launch_services_and_apple_events_denied"
    }) {
        assert!(
            MATRIX
                .iter()
                .any(|(_, m)| matches!(m, Mac::Runs(x) if x == t)),
            "{t} is not in the matrix"
        );
    }
}
