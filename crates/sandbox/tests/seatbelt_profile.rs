//! Seatbelt profile generation (crates/sandbox/src/macos/profile.rs), tested on any platform:
//! golden profiles, hostile path names, and structural checks over every policy combination
//! (network modes × writable roots × carve-outs × denied paths). The profiles are applied only
//! on macOS (written, not run here).

#![allow(
    clippy::unwrap_used,
    reason = "tests: an unexpected error should fail the test with its message"
)]

use ku0_sandbox::ExecPolicy;
use ku0_sandbox::macos::profile::{MACH_SERVICES_NEVER, Profile, ProfileInputs, canonical_lexical};
use ku0_sandbox::policy::NetworkMode;

/// A parsed SBPL form.
#[derive(Debug, Clone, PartialEq)]
enum Sx {
    Atom(String),
    Str(String),
    List(Vec<Sx>),
}

/// A strict reader for what the generator emits: lists, atoms, `"…"` strings without escapes,
/// `;` comments. Fails on anything else (unbalanced parentheses, a backslash, a stray quote).
fn parse(text: &str) -> Result<Vec<Sx>, String> {
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut stack: Vec<Vec<Sx>> = vec![Vec::new()];
    while i < b.len() {
        let c = b[i];
        match c {
            ';' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '(' => {
                stack.push(Vec::new());
                i += 1;
            }
            ')' => {
                let l = stack.pop().ok_or("unbalanced )")?;
                stack.last_mut().ok_or("unbalanced )")?.push(Sx::List(l));
                i += 1;
            }
            '"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != '"' {
                    if b[i] == '\\' || b[i] == '\n' {
                        return Err(format!("escape or newline in string at {i}"));
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return Err("unterminated string".into());
                }
                let s: String = b[start..i].iter().collect();
                stack.last_mut().ok_or("state")?.push(Sx::Str(s));
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                let start = i;
                while i < b.len() && !b[i].is_whitespace() && !"();\"".contains(b[i]) {
                    i += 1;
                }
                let a: String = b[start..i].iter().collect();
                stack.last_mut().ok_or("state")?.push(Sx::Atom(a));
            }
        }
    }
    if stack.len() != 1 {
        return Err("unbalanced (".into());
    }
    Ok(stack.pop().unwrap_or_default())
}

fn strings(sx: &Sx, out: &mut Vec<String>) {
    match sx {
        Sx::Str(s) => out.push(s.clone()),
        Sx::List(l) => l.iter().for_each(|x| strings(x, out)),
        Sx::Atom(_) => {}
    }
}

/// The top-level forms whose head atoms equal `head` (e.g. "allow file-write*").
fn forms<'a>(top: &'a [Sx], head: &str) -> Vec<&'a [Sx]> {
    let want: Vec<&str> = head.split(' ').collect();
    top.iter()
        .filter_map(|f| match f {
            Sx::List(l) if l.len() >= want.len() => {
                let ok = want
                    .iter()
                    .zip(l.iter())
                    .all(|(w, x)| *x == Sx::Atom(w.to_string()));
                ok.then_some(&l[want.len()..])
            }
            _ => None,
        })
        .collect()
}

fn param_of(p: &Profile, value: &str) -> Option<String> {
    p.params
        .iter()
        .find(|(_, v)| v == value)
        .map(|(k, _)| k.clone())
}

/// `(kind (param "k"))`.
fn param_filter(kind: &str, k: &str) -> Sx {
    Sx::List(vec![
        Sx::Atom(kind.into()),
        Sx::List(vec![Sx::Atom("param".into()), Sx::Str(k.into())]),
    ])
}

/// `target` somewhere in `filters` (at any depth).
fn contains_form(filters: &[Sx], target: &Sx) -> bool {
    fn walk(x: &Sx, t: &Sx) -> bool {
        x == t
            || match x {
                Sx::List(l) => l.iter().any(|y| walk(y, t)),
                _ => false,
            }
    }
    filters.iter().any(|f| walk(f, target))
}

/// `(kind (param "k"))` somewhere in `filters` (at any depth).
fn mentions(filters: &[Sx], kind: &str, k: &str) -> bool {
    contains_form(filters, &param_filter(kind, k))
}

/// `(require-not (kind (param "k")))` somewhere in `filters`.
fn excludes(filters: &[Sx], kind: &str, k: &str) -> bool {
    let target = Sx::List(vec![Sx::Atom("require-not".into()), param_filter(kind, k)]);
    contains_form(filters, &target)
}

/// Every string literal in the text is one the generator owns: a parameter name, or a fixed
/// system path / service / sysctl name / proxy destination. No policy path can be among them.
fn check_text_is_closed(p: &Profile, top: &[Sx]) {
    let mut lits = Vec::new();
    top.iter().for_each(|f| strings(f, &mut lits));
    for s in lits {
        let is_param = s.len() > 1
            && s.starts_with('P')
            && s[1..].bytes().all(|c| c.is_ascii_digit())
            && p.params.iter().any(|(k, _)| *k == s);
        let fixed = s.starts_with("/dev/")
            || s == "/"
            || s.starts_with("/System/Volumes/")
            || s.starts_with("com.apple.")
            || s.starts_with("localhost:")
            || s.bytes()
                .all(|c| c.is_ascii_lowercase() || c == b'.' || c == b'_' || c.is_ascii_digit());
        assert!(is_param || fixed, "unexpected literal {s:?} in profile");
    }
    let mut names: Vec<&String> = p.params.iter().map(|(k, _)| k).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), p.params.len(), "duplicate parameter names");
}

fn policy(json: &str) -> ExecPolicy {
    ExecPolicy::from_json(json).unwrap()
}

fn build(p: &ExecPolicy) -> (ProfileInputs, Profile) {
    let inputs =
        ProfileInputs::from_policy(p, Some("/private/tmp/ku0-sbx-test"), &canonical_lexical)
            .unwrap();
    let prof = inputs.render().unwrap();
    (inputs, prof)
}

/// Inputs and profile of `p` with the host's canonical paths (the on-disk tests), checked by
/// [`check`].
#[cfg(unix)]
fn build_on_host(p: &ExecPolicy, tmpdir: Option<&str>) -> (ProfileInputs, Profile) {
    let canon = ku0_sandbox::macos::profile::canonical_host;
    let inputs = ProfileInputs::from_policy(p, tmpdir, &canon).unwrap();
    let prof = inputs.render().unwrap();
    check(p, &inputs, &prof);
    (inputs, prof)
}

/// A fresh scratch directory for an on-disk test (what a previous run left is removed).
#[cfg(unix)]
fn scratch(name: &str) -> std::path::PathBuf {
    let base = std::env::temp_dir().join(format!("ku0-sb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    base
}

/// Structural guarantees of one profile.
fn check(p: &ExecPolicy, inputs: &ProfileInputs, prof: &Profile) {
    let top = parse(&prof.text).unwrap_or_else(|e| panic!("{e}\n{}", prof.text));
    check_text_is_closed(prof, &top);
    assert!(top.contains(&Sx::List(vec![
        Sx::Atom("deny".into()),
        Sx::Atom("default".into())
    ])));
    let writes = forms(&top, "allow file-write*");
    assert_eq!(
        writes.len(),
        usize::from(!inputs.writable.is_empty() || inputs.tmpdir.is_some())
    );
    let w = writes.first().copied().unwrap_or(&[]);
    let ro_deny = forms(&top, "deny file-write*");
    let ro_deny = ro_deny.first().copied().unwrap_or(&[]);
    let denied = forms(&top, "deny file-read* file-write*");
    let denied = denied.first().copied().unwrap_or(&[]);
    let reads = forms(&top, "allow file-read*");
    for root in inputs.writable.iter().chain(inputs.tmpdir.iter()) {
        let k = param_of(prof, root).unwrap();
        assert!(mentions(w, "subpath", &k), "writable {root} not writable");
        assert!(
            reads.iter().any(|r| mentions(r, "subpath", &k)),
            "writable {root} not readable"
        );
    }
    for ro in &inputs.read_only {
        let k = param_of(prof, ro).unwrap();
        assert!(excludes(w, "subpath", &k), "carve-out {ro} not excluded");
        assert!(
            mentions(ro_deny, "subpath", &k),
            "carve-out {ro} not denied"
        );
    }
    for pin in &inputs.pinned {
        let k = param_of(prof, pin).unwrap();
        assert!(excludes(w, "literal", &k), "pin {pin} not excluded");
        assert!(mentions(ro_deny, "literal", &k), "pin {pin} not denied");
    }
    let roots: Vec<&String> = inputs
        .readable
        .iter()
        .chain(&inputs.writable)
        .chain(inputs.tmpdir.iter())
        .collect();
    for d in &inputs.denied {
        let k = param_of(prof, d).unwrap();
        assert!(mentions(denied, "subpath", &k), "denied {d} not denied");
        for root in roots.iter().filter(|r| d.as_str() != r.as_str()) {
            let rk = param_of(prof, root).unwrap();
            if ku0_sandbox::macos::profile::within(root, d) {
                assert!(
                    excludes(denied, "subpath", &rk),
                    "root {root} inside denied {d} is not excepted"
                );
            }
            if ku0_sandbox::macos::profile::within(d, root) {
                assert!(
                    reads.iter().any(|r| excludes(r, "subpath", &k)),
                    "denied {d} inside {root} not excluded from reads"
                );
            }
        }
    }
    // Network.
    let all_net = top.contains(&Sx::List(vec![
        Sx::Atom("allow".into()),
        Sx::Atom("network*".into()),
    ]));
    let proxy = prof.text.contains("(remote ip \"localhost:");
    match p.network.mode {
        NetworkMode::None => assert!(!all_net && !proxy),
        NetworkMode::Allowlist => {
            assert!(!all_net);
            let port = p.network.proxy_port.unwrap();
            assert_eq!(
                prof.text.matches("(remote ip ").count(),
                1,
                "exactly one TCP destination"
            );
            assert!(
                prof.text
                    .contains(&format!("(remote ip \"localhost:{port}\")"))
            );
        }
        NetworkMode::Full => assert!(all_net && !proxy),
    }
    // Processes: only the sandbox's own (no task ports of others, signals and info in-sandbox).
    assert!(!prof.text.contains("mach-priv-task-port") && !prof.text.contains("process-info-"));
    for op in ["signal", "process-info*"] {
        let f = forms(&top, &format!("allow {op}"));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0],
            &[Sx::List(vec![
                Sx::Atom("target".into()),
                Sx::Atom("same-sandbox".into())
            ])][..]
        );
    }
    // Devices: writes only to the fixed nodes, never a subpath of /dev but /dev/fd.
    let dev_w = forms(&top, "allow file-write-data file-ioctl");
    assert_eq!(dev_w.len(), 1);
    let mut dev_lits = Vec::new();
    dev_w[0].iter().for_each(|f| strings(f, &mut dev_lits));
    assert_eq!(
        dev_lits,
        [
            "/dev/null",
            "/dev/zero",
            "/dev/stdout",
            "/dev/stderr",
            "/dev/fd"
        ]
    );
    // Unix sockets (none/allowlist): exactly where the command may write.
    if p.network.mode != NetworkMode::Full {
        let net = forms(&top, "allow network-bind network-outbound");
        assert_eq!(net.len(), usize::from(!w.is_empty()));
        if let Some(n) = net.first() {
            assert_eq!(*n, w);
        }
    }
    for m in MACH_SERVICES_NEVER {
        assert!(!prof.text.contains(m), "{m} must never be allowed");
    }
    assert!(!prof.text.contains("appleevent-send") && !prof.text.contains("lsopen"));
}

#[test]
fn every_policy_combination_is_well_formed() {
    let networks = [
        r#"{"mode":"none"}"#,
        r#"{"mode":"allowlist","proxyPort":18080}"#,
        r#"{"mode":"full"}"#,
    ];
    let writables = [
        "[]",
        r#"["/Users/dev/ws"]"#,
        r#"["/Users/dev/ws","/tmp/scratch"]"#,
    ];
    let carveouts = [
        "",
        r#","readOnlyPaths":[],"gitMetadataWritable":true"#,
        r#","readOnlyPaths":["/Users/dev/ws/secrets.d","/Users/dev/ws/a/b/c"]"#,
    ];
    let denieds = [
        "",
        r#","deniedPaths":[]"#,
        r#","deniedPaths":["/Users/dev/ws/.env","/Users/dev/ws/keys"]"#,
        r#","deniedPaths":["/Users/dev","/etc/ssh"]"#,
    ];
    let mut n = 0;
    for net in networks {
        for w in writables {
            for c in carveouts {
                for d in denieds {
                    let json = format!(
                        r#"{{"argv":["/bin/sh","-c","true"],"hostHome":"/Users/dev","network":{net},"writableRoots":{w}{c}{d}}}"#
                    );
                    let p = policy(&json);
                    let (inputs, prof) = build(&p);
                    check(&p, &inputs, &prof);
                    if p.git_metadata_writable || p.writable_roots.is_empty() {
                        assert!(!prof.params.iter().any(|(_, v)| v.ends_with("/.git")));
                    } else {
                        assert!(prof.params.iter().any(|(_, v)| v == "/Users/dev/ws/.git"));
                    }
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 3 * 3 * 3 * 4);
}

#[test]
fn canonical_paths_and_data_volume_aliases() {
    let p = policy(
        r#"{"argv":["x"],"writableRoots":["/tmp/ws","/Users/dev/p"],"hostHome":"/Users/dev","readableRoots":["/etc","/opt"]}"#,
    );
    let (inputs, prof) = build(&p);
    assert_eq!(inputs.writable, vec!["/private/tmp/ws", "/Users/dev/p"]);
    assert!(inputs.readable.contains(&"/private/etc".to_string()));
    assert!(inputs.denied.contains(&"/private/etc/shadow".to_string()));
    assert!(inputs.denied.contains(&"/Users/dev/.ssh".to_string()));
    for v in [
        "/private/tmp/ws",
        "/System/Volumes/Data/private/tmp/ws",
        "/Users/dev/.ssh",
        "/System/Volumes/Data/Users/dev/.ssh",
        "/System/Volumes/Data/Users/dev/p/.git/config",
    ] {
        assert!(param_of(&prof, v).is_some(), "{v} missing");
    }
    assert!(!prof.params.iter().any(|(_, v)| v.starts_with("/tmp/")));
}

#[test]
fn system_root_does_not_expose_the_data_volume() {
    let p = policy(r#"{"argv":["x"],"writableRoots":["/Users/dev/ws"]}"#);
    let (_, prof) = build(&p);
    let top = parse(&prof.text).unwrap();
    let sys = param_of(&prof, "/System").unwrap();
    let head = format!("(require-all (subpath (param \"{sys}\"))");
    let line = prof
        .text
        .lines()
        .find(|l| l.trim_start().starts_with(&head))
        .unwrap();
    assert!(line.contains("(require-not (subpath \"/System/Volumes/Data\"))"));
    assert!(line.contains("(require-not (subpath \"/System/Volumes/VM\"))"));
    // The workspace's own data-volume spelling stays readable and writable.
    let alias = param_of(&prof, "/System/Volumes/Data/Users/dev/ws").unwrap();
    let w = forms(&top, "allow file-write*")[0];
    assert!(mentions(w, "subpath", &alias));
}

#[test]
fn workspace_inside_denied_home_stays_usable() {
    let p = policy(
        r#"{"argv":["x"],"writableRoots":["/Users/dev/ws"],"deniedPaths":["/Users/dev","/Users/dev/ws/.aws"]}"#,
    );
    let (inputs, prof) = build(&p);
    check(&p, &inputs, &prof);
    let top = parse(&prof.text).unwrap();
    let denied = forms(&top, "deny file-read* file-write*")[0];
    let home = param_of(&prof, "/Users/dev").unwrap();
    let ws = param_of(&prof, "/Users/dev/ws").unwrap();
    let aws = param_of(&prof, "/Users/dev/ws/.aws").unwrap();
    assert!(mentions(denied, "subpath", &home));
    assert!(excludes(denied, "subpath", &ws));
    // A denied path inside the workspace is not excepted.
    assert!(mentions(denied, "subpath", &aws));
    let w = forms(&top, "allow file-write*")[0];
    assert!(excludes(w, "subpath", &aws));
}

#[test]
fn hostile_names_never_reach_the_profile_text() {
    let hostile = [
        "/Users/dev/q\"uote",
        "/Users/dev/pa)ren(",
        "/Users/dev/back\\slash",
        "/Users/dev/new\nline",
        "/Users/dev/x\") (allow default) (\"",
        "/Users/dev/(param \"P0\")",
        "/Users/dev/;comment",
        "/Users/dev/#\"regex\"",
        "/Users/dev/cafe\u{301}",
        "/Users/dev/caf\u{e9}",
        "/Users/dev/\u{202e}rtl",
        "/Users/dev/tab\there",
    ];
    for h in hostile {
        let json = serde_json::json!({
            "argv": ["x"],
            "writableRoots": [h],
            "readableRoots": [format!("{h}-ro")],
            "deniedPaths": [format!("{h}/secret")],
            "readOnlyPaths": [format!("{h}/.ku0")],
            "network": {"mode": "allowlist", "proxyPort": 3128},
        })
        .to_string();
        let p = policy(&json);
        let (inputs, prof) = build(&p);
        check(&p, &inputs, &prof);
        assert!(!prof.text.contains(h), "{h:?} leaked into the text");
        assert!(
            !prof.text.contains("/Users/"),
            "a policy path leaked into the text"
        );
        // Bytes unchanged in the parameters (NFD stays NFD, NFC stays NFC).
        assert!(param_of(&prof, h).is_some());
        assert!(param_of(&prof, &format!("{h}/secret")).is_some());
        assert!(param_of(&prof, &format!("{h}/.ku0")).is_some());
    }
    // NFC and NFD spellings are distinct parameters (the host's realpath picks the on-disk one).
    let p = policy(
        r#"{"argv":["x"],"writableRoots":["/Users/dev/cafe\u0301","/Users/dev/caf\u00e9"]}"#,
    );
    assert_eq!(build(&p).0.writable.len(), 2);
}

#[test]
fn slash_is_never_a_root_and_allowlist_needs_a_port() {
    let p = policy(r#"{"argv":["x"],"writableRoots":["/tmp/.."]}"#);
    assert!(ProfileInputs::from_policy(&p, None, &canonical_lexical).is_err());
    let p = policy(r#"{"argv":["x"],"readableRoots":["/usr/.."]}"#);
    assert!(ProfileInputs::from_policy(&p, None, &canonical_lexical).is_err());
    let bad = ProfileInputs {
        network: NetworkMode::Allowlist,
        ..Default::default()
    };
    assert!(bad.render().is_err());
    let rel = ProfileInputs {
        readable: vec!["relative".into()],
        ..Default::default()
    };
    assert!(rel.render().is_err());
}

/// Real directories with hostile names: git paths are discovered, placeholders created, every
/// carve-out bound as a parameter with its exact bytes.
#[cfg(unix)]
#[test]
fn hostile_workspace_on_disk_gets_git_carveouts_and_placeholders() {
    use ku0_sandbox::macos::profile::{canonical_host, create_placeholders};
    let base = scratch("host");
    let ws = base.join("w\"s) (allow default)\nx");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::write(ws.join(".git/config"), "[core]\n\thooksPath = .husky\n").unwrap();
    std::fs::create_dir_all(ws.join("vendor/lib/.git")).unwrap();
    let ws_s = ws.to_str().unwrap().to_string();
    let json = serde_json::json!({
        "argv": ["x"],
        "writableRoots": [ws_s],
        "hostHome": ws_s,
    })
    .to_string();
    let p = policy(&json);
    create_placeholders(&p, &canonical_host).unwrap();
    assert!(ws.join(".git/hooks").is_dir());
    assert_eq!(
        std::fs::read_to_string(ws.join(".git/commondir")).unwrap(),
        ".\n"
    );
    assert!(
        ws.join(".ssh").is_dir(),
        "denied placeholder inside the root"
    );
    assert!(ws.join(".netrc").is_file());
    let (inputs, prof) = build_on_host(&p, Some("/private/tmp/t"));
    let real = canonical_host(&ws_s);
    for rel in [
        ".git/config",
        ".git/hooks",
        ".git/commondir",
        ".husky",
        ".ku0",
        "vendor/lib/.git/config",
    ] {
        let v = format!("{real}/{rel}");
        assert!(inputs.read_only.contains(&v), "{v:?} not read-only");
    }
    for pin in [".git", "vendor", "vendor/lib", "vendor/lib/.git"] {
        let v = format!("{real}/{pin}");
        assert!(inputs.pinned.contains(&v), "{v:?} not pinned");
    }
    assert!(inputs.denied.contains(&format!("{real}/.ssh")));
    assert!(!prof.text.contains("allow default)\nx"));
    std::fs::remove_dir_all(&base).unwrap();
}

/// Worktree pointer files, a symlinked `.git` and a dangling hooks symlink, on disk.
#[cfg(unix)]
#[test]
fn git_pointer_files_and_symlinks_are_carved_out() {
    use ku0_sandbox::macos::profile::canonical_host;
    use std::os::unix::fs::symlink;
    let base = scratch("gitptr");
    let main = base.join("main");
    std::fs::create_dir_all(main.join(".git/worktrees/w")).unwrap();
    std::fs::write(main.join(".git/worktrees/w/commondir"), "../..\n").unwrap();
    let wt = base.join("wt");
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::write(
        wt.join(".git"),
        format!("gitdir: {}\n", main.join(".git/worktrees/w").display()),
    )
    .unwrap();
    let linked = base.join("linked");
    std::fs::create_dir_all(linked.join("store/real.git")).unwrap();
    symlink(linked.join("store/real.git"), linked.join(".git")).unwrap();
    let dangling = base.join("dangling");
    std::fs::create_dir_all(dangling.join(".git")).unwrap();
    symlink(dangling.join("hooks-target"), dangling.join(".git/hooks")).unwrap();
    let roots: Vec<String> = [&main, &wt, &linked, &dangling]
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let p = policy(&serde_json::json!({"argv": ["x"], "writableRoots": roots}).to_string());
    let (inputs, _) = build_on_host(&p, None);
    let c = |p: std::path::PathBuf| canonical_host(p.to_str().unwrap());
    for ro in [
        c(wt.join(".git")),
        c(main.join(".git/worktrees/w/config.worktree")),
        c(main.join(".git/worktrees/w/commondir")),
        c(main.join(".git/config")),
        c(main.join(".git/hooks")),
        c(linked.join("store/real.git/config")),
        c(dangling.join(".git/hooks")),
        c(dangling.join("hooks-target")),
    ] {
        assert!(inputs.read_only.contains(&ro), "{ro} not read-only");
    }
    // The `.git` symlink itself is pinned (cannot be replaced); its target stays writable.
    assert!(
        inputs.pinned.contains(&c(linked.join(".git")))
            || inputs
                .pinned
                .contains(&format!("{}/.git", c(linked.clone())))
    );
    assert!(!inputs.read_only.contains(&c(linked.join("store/real.git"))));
    std::fs::remove_dir_all(&base).unwrap();
}

/// Golden profiles: `KU0_UPDATE_GOLDEN=1 cargo test -p ku0-sandbox --test seatbelt_profile`
/// rewrites them; review the diff like code.
#[test]
fn golden_profiles() {
    let cases = [
        (
            "workspace-none",
            r#"{"argv":["/bin/sh","-c","true"],"writableRoots":["/Users/dev/ws"],"hostHome":"/Users/dev","network":{"mode":"none"}}"#,
        ),
        (
            "workspace-allowlist",
            r#"{"argv":["/bin/sh","-c","true"],"writableRoots":["/Users/dev/ws"],"hostHome":"/Users/dev","network":{"mode":"allowlist","proxyPort":41234}}"#,
        ),
        (
            "git-writable-full",
            r#"{"argv":["/bin/sh","-c","true"],"writableRoots":["/tmp/ws"],"readOnlyPaths":[],"gitMetadataWritable":true,"deniedPaths":[],"network":{"mode":"full"}}"#,
        ),
        (
            "read-only",
            r#"{"argv":["/bin/sh","-c","true"],"readableRoots":["/usr","/bin","/Users/dev/ws"],"deniedPaths":["/Users/dev/ws/.env"]}"#,
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/seatbelt");
    let update = std::env::var_os("KU0_UPDATE_GOLDEN").is_some();
    for (name, json) in cases {
        let p = policy(json);
        let (_, prof) = build(&p);
        let mut now = prof.text.clone();
        now.push_str(";\n; parameters:\n");
        for (k, v) in &prof.params {
            now.push_str(&format!("; {k} = {}\n", serde_json::to_string(v).unwrap()));
        }
        let path = dir.join(format!("{name}.sb"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &now).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            golden,
            now,
            "{} is stale: KU0_UPDATE_GOLDEN=1 cargo test -p ku0-sandbox --test seatbelt_profile",
            path.display()
        );
    }
}
