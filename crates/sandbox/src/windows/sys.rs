//! Windows FFI glue (`cfg(windows)`): AppContainer profile and SID, ACL entries from the plan,
//! Job Object, `CreateProcessW` with `STARTUPINFOEXW` (security capabilities, LPAC opt-out,
//! explicit handle list). **Written, not run on Windows**: type-checked and clippy-clean for
//! `x86_64-pc-windows-{msvc,gnu}`; the plumbing without a container ([`spawn`] with
//! `container: None`, [`Job`]) runs under Wine in `tests/windows_plumbing.rs`. Wine implements
//! neither AppContainer isolation nor its ACL checks, so the isolation path has never run.
//!
//! Each call follows its Microsoft Learn page; the SAFETY comments name the documented contract
//! each `unsafe` block relies on.

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ALREADY_EXISTS, ERROR_SUCCESS, HANDLE, HANDLE_FLAG_INHERIT, LocalFree,
    SetHandleInformation, WAIT_OBJECT_0,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSidToSidW, DENY_ACCESS, EXPLICIT_ACCESS_W, GRANT_ACCESS, GetNamedSecurityInfoW,
    REVOKE_ACCESS, SE_FILE_OBJECT, SetEntriesInAclW, SetNamedSecurityInfoW, TRUSTEE_IS_SID,
    TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::Isolation::{
    CreateAppContainerProfile, DeriveAppContainerSidFromAppContainerName,
};
use windows_sys::Win32::Security::{
    ACL, DACL_SECURITY_INFORMATION, FreeSid, NO_INHERITANCE, PSID, SECURITY_CAPABILITIES,
    SID_AND_ATTRIBUTES, SUB_CONTAINERS_AND_OBJECTS_INHERIT,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_CPU_RATE_CONTROL_ENABLE,
    JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP, JOB_OBJECT_LIMIT_ACTIVE_PROCESS,
    JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION, JOB_OBJECT_LIMIT_JOB_MEMORY,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JOB_OBJECT_LIMIT_PROCESS_MEMORY,
    JOB_OBJECT_LIMIT_PROCESS_TIME, JOB_OBJECT_UILIMIT_DESKTOP, JOB_OBJECT_UILIMIT_DISPLAYSETTINGS,
    JOB_OBJECT_UILIMIT_EXITWINDOWS, JOB_OBJECT_UILIMIT_GLOBALATOMS, JOB_OBJECT_UILIMIT_HANDLES,
    JOB_OBJECT_UILIMIT_READCLIPBOARD, JOB_OBJECT_UILIMIT_SYSTEMPARAMETERS,
    JOB_OBJECT_UILIMIT_WRITECLIPBOARD, JOBOBJECT_BASIC_UI_RESTRICTIONS,
    JOBOBJECT_CPU_RATE_CONTROL_INFORMATION, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JobObjectBasicUIRestrictions, JobObjectCpuRateControlInformation,
    JobObjectExtendedLimitInformation, SetInformationJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_NO_WINDOW, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT, CreateProcessW,
    DeleteProcThreadAttributeList, EXTENDED_STARTUPINFO_PRESENT, GetExitCodeProcess, INFINITE,
    InitializeProcThreadAttributeList, PROC_THREAD_ATTRIBUTE_ALL_APPLICATION_PACKAGES_POLICY,
    PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROC_THREAD_ATTRIBUTE_SECURITY_CAPABILITIES,
    PROCESS_INFORMATION, ResumeThread, STARTF_USESTDHANDLES, STARTUPINFOEXW, TerminateProcess,
    UpdateProcThreadAttribute, WaitForSingleObject,
};

use super::plan::{AclEntry, JobPlan, Placeholder, SandboxPlan};
use crate::{Result, SandboxError};

/// `SE_GROUP_ENABLED`: capability SIDs are passed enabled.
const SE_GROUP_ENABLED: u32 = 0x4;
/// `PROCESS_CREATION_ALL_APPLICATION_PACKAGES_OPT_OUT` (LPAC).
const ALL_APPLICATION_PACKAGES_OPT_OUT: u32 = 0x1;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn os_err(what: &str) -> SandboxError {
    SandboxError::last_os(what)
}

fn win32_err(what: &str, code: u32) -> SandboxError {
    SandboxError::Os {
        what: what.into(),
        source: std::io::Error::from_raw_os_error(code as i32),
    }
}

/// An owned kernel handle, closed on drop.
#[derive(Debug)]
pub struct OwnedHandle(pub HANDLE);

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: we own this handle (returned by a create call) and close it once.
            unsafe { CloseHandle(self.0) };
        }
    }
}

/// A SID allocated by `CreateAppContainerProfile` / `DeriveAppContainerSidFromAppContainerName`
/// (freed with `FreeSid`, as their documentation says) or by `ConvertStringSidToSidW` (freed with
/// `LocalFree`).
struct Sid {
    ptr: PSID,
    local: bool,
}

impl Drop for Sid {
    fn drop(&mut self) {
        if self.ptr.is_null() {
            return;
        }
        if self.local {
            // SAFETY: allocated by ConvertStringSidToSidW, which documents LocalFree.
            unsafe { LocalFree(self.ptr) };
        } else {
            // SAFETY: allocated by the AppContainer profile APIs, which document FreeSid.
            unsafe { FreeSid(self.ptr) };
        }
    }
}

/// The AppContainer SID of `name`, creating the profile the first time. Not run (Wine).
fn app_container_sid(name: &str) -> Result<Sid> {
    let wname = wide(name);
    let display = wide("ku0 sandbox");
    let mut sid: PSID = null_mut();
    // SAFETY: the strings are NUL-terminated and outlive the call; no capabilities (null, 0);
    // `sid` receives a SID we free with FreeSid.
    let hr = unsafe {
        CreateAppContainerProfile(
            wname.as_ptr(),
            display.as_ptr(),
            display.as_ptr(),
            null(),
            0,
            &mut sid,
        )
    };
    // HRESULT_FROM_WIN32(ERROR_ALREADY_EXISTS): the profile exists, derive its SID instead.
    let already = (0x8007_0000u32 | ERROR_ALREADY_EXISTS) as i32;
    if hr == already {
        // SAFETY: as above; the derived SID is freed with FreeSid.
        let hr = unsafe { DeriveAppContainerSidFromAppContainerName(wname.as_ptr(), &mut sid) };
        if hr < 0 {
            return Err(win32_err(
                "DeriveAppContainerSidFromAppContainerName",
                hr as u32,
            ));
        }
    } else if hr < 0 {
        return Err(win32_err("CreateAppContainerProfile", hr as u32));
    }
    Ok(Sid {
        ptr: sid,
        local: false,
    })
}

fn string_sid(s: &str) -> Result<Sid> {
    let w = wide(s);
    let mut sid: PSID = null_mut();
    // SAFETY: NUL-terminated input; the output SID is freed with LocalFree.
    if unsafe { ConvertStringSidToSidW(w.as_ptr(), &mut sid) } == 0 {
        return Err(os_err("ConvertStringSidToSidW"));
    }
    Ok(Sid {
        ptr: sid,
        local: true,
    })
}

/// Adds (or, with `revoke`, removes every explicit entry of) `sid` on one path's DACL.
fn set_entry(path: &str, sid: PSID, access: Option<(u32, i32, u32)>) -> Result<()> {
    let wpath = wide(path);
    let mut dacl: *mut ACL = null_mut();
    let mut sd: *mut c_void = null_mut();
    // SAFETY: NUL-terminated path; we ask only for the DACL; `sd` owns the returned buffers and
    // is freed with LocalFree below (documented); `dacl` points into it.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            wpath.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            null_mut(),
            null_mut(),
            &mut dacl,
            null_mut(),
            &mut sd,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(win32_err(&format!("GetNamedSecurityInfoW {path}"), rc));
    }
    let (mask, mode, inherit) = access.unwrap_or((0, REVOKE_ACCESS, NO_INHERITANCE));
    let ea = EXPLICIT_ACCESS_W {
        grfAccessPermissions: mask,
        grfAccessMode: mode,
        grfInheritance: inherit,
        Trustee: TRUSTEE_W {
            pMultipleTrustee: null_mut(),
            MultipleTrusteeOperation: 0,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_UNKNOWN,
            ptstrName: sid.cast(),
        },
    };
    let mut new_dacl: *mut ACL = null_mut();
    // SAFETY: one valid entry; `dacl` is the current DACL (or null); SetEntriesInAclW orders the
    // result canonically (explicit deny before explicit allow) and allocates it with LocalAlloc.
    let rc = unsafe { SetEntriesInAclW(1, &ea, dacl, &mut new_dacl) };
    // SAFETY: `sd` came from GetNamedSecurityInfoW; `dacl` is not used after this.
    unsafe { LocalFree(sd) };
    if rc != ERROR_SUCCESS {
        return Err(win32_err("SetEntriesInAclW", rc));
    }
    // SAFETY: writes only the DACL (inheritance to existing children is propagated by the
    // system); `new_dacl` is freed with LocalFree afterwards.
    let rc = unsafe {
        SetNamedSecurityInfoW(
            wpath.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            null_mut(),
            null_mut(),
            new_dacl,
            null(),
        )
    };
    // SAFETY: allocated by SetEntriesInAclW (documented: free with LocalFree).
    unsafe { LocalFree(new_dacl.cast()) };
    if rc != ERROR_SUCCESS {
        return Err(win32_err(&format!("SetNamedSecurityInfoW {path}"), rc));
    }
    Ok(())
}

fn ensure_placeholder(e: &AclEntry) -> Result<()> {
    let Some(kind) = e.placeholder else {
        return Ok(());
    };
    let path = e.path.verbatim();
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(());
    }
    if let Some(parent) = e.path.parent() {
        std::fs::create_dir_all(parent.verbatim()).map_err(SandboxError::Io)?;
    }
    let r = match kind {
        Placeholder::Dir => std::fs::create_dir(&path),
        Placeholder::File => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map(drop),
    };
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(SandboxError::Io(e)),
        _ => Ok(()),
    }
}

/// The ACL entries of a plan, applied; dropping it removes every explicit entry of the SID from
/// the same paths (`REVOKE_ACCESS`), leaving the other entries as they were.
struct AppliedAcl<'a> {
    sid: &'a Sid,
    paths: Vec<String>,
}

impl Drop for AppliedAcl<'_> {
    fn drop(&mut self) {
        for p in self.paths.iter().rev() {
            let _ = set_entry(p, self.sid.ptr, None);
        }
    }
}

fn apply_acl<'a>(plan: &SandboxPlan, sid: &'a Sid) -> Result<AppliedAcl<'a>> {
    let mut applied = AppliedAcl {
        sid,
        paths: Vec::new(),
    };
    for e in &plan.acl {
        ensure_placeholder(e)?;
        let path = e.path.verbatim();
        if e.placeholder.is_none() && std::fs::symlink_metadata(&path).is_err() {
            continue; // a missing root grants nothing
        }
        let mode = if e.grant.is_deny() {
            DENY_ACCESS
        } else {
            GRANT_ACCESS
        };
        let inherit = if e.grant.inherits() {
            SUB_CONTAINERS_AND_OBJECTS_INHERIT
        } else {
            NO_INHERITANCE
        };
        set_entry(&path, sid.ptr, Some((e.grant.mask(), mode, inherit)))?;
        if !applied.paths.contains(&path) {
            applied.paths.push(path);
        }
    }
    Ok(applied)
}

/// A Job Object: every process of the sandbox, its limits, killed when the handle closes.
#[derive(Debug)]
pub struct Job(pub OwnedHandle);

impl Job {
    pub fn new(limits: &JobPlan) -> Result<Job> {
        // SAFETY: anonymous job, default security.
        let h = unsafe { CreateJobObjectW(null(), null()) };
        if h.is_null() {
            return Err(os_err("CreateJobObjectW"));
        }
        let job = Job(OwnedHandle(h));
        // SAFETY: zeroed is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION (all-integer struct).
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        let b = &mut info.BasicLimitInformation;
        b.LimitFlags =
            JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
        if let Some(n) = limits.active_processes {
            b.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
            b.ActiveProcessLimit = n;
        }
        if let Some(t) = limits.process_user_time_100ns {
            b.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_TIME;
            b.PerProcessUserTimeLimit = t;
        }
        if let Some(m) = limits.job_memory {
            b.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
            info.JobMemoryLimit = usize::try_from(m).unwrap_or(usize::MAX);
        }
        if let Some(m) = limits.process_memory {
            info.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_PROCESS_MEMORY;
            info.ProcessMemoryLimit = usize::try_from(m).unwrap_or(usize::MAX);
        }
        job.set(
            JobObjectExtendedLimitInformation,
            &info,
            "SetInformationJobObject(ExtendedLimitInformation)",
        )?;
        let ui = JOBOBJECT_BASIC_UI_RESTRICTIONS {
            UIRestrictionsClass: JOB_OBJECT_UILIMIT_DESKTOP
                | JOB_OBJECT_UILIMIT_DISPLAYSETTINGS
                | JOB_OBJECT_UILIMIT_EXITWINDOWS
                | JOB_OBJECT_UILIMIT_GLOBALATOMS
                | JOB_OBJECT_UILIMIT_HANDLES
                | JOB_OBJECT_UILIMIT_READCLIPBOARD
                | JOB_OBJECT_UILIMIT_SYSTEMPARAMETERS
                | JOB_OBJECT_UILIMIT_WRITECLIPBOARD,
        };
        job.set(
            JobObjectBasicUIRestrictions,
            &ui,
            "SetInformationJobObject(BasicUIRestrictions)",
        )?;
        if let Some(rate) = limits.cpu_rate {
            // SAFETY: zeroed is valid for this struct of integers and an integer union.
            let mut cpu: JOBOBJECT_CPU_RATE_CONTROL_INFORMATION = unsafe { std::mem::zeroed() };
            cpu.ControlFlags =
                JOB_OBJECT_CPU_RATE_CONTROL_ENABLE | JOB_OBJECT_CPU_RATE_CONTROL_HARD_CAP;
            cpu.Anonymous.CpuRate = rate;
            job.set(
                JobObjectCpuRateControlInformation,
                &cpu,
                "SetInformationJobObject(CpuRateControlInformation)",
            )?;
        }
        Ok(job)
    }

    fn set<T>(&self, class: i32, value: &T, what: &str) -> Result<()> {
        // SAFETY: `value` is the struct documented for `class`, passed with its exact size.
        let ok = unsafe {
            SetInformationJobObject(
                self.0.0,
                class,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as u32,
            )
        };
        if ok == 0 {
            return Err(os_err(what));
        }
        Ok(())
    }
}

/// AppContainer attributes of a spawn.
pub struct Container<'a> {
    sid: PSID,
    capabilities: &'a [SID_AND_ATTRIBUTES],
    lpac: bool,
}

/// One process to start in a job.
pub struct SpawnRequest<'a> {
    pub argv: &'a [String],
    /// The policy's shell marker: with [`crate::Shell::Cmd`] the command line is the verbatim cmd
    /// form ([`super::cmdline::policy_command_line`]).
    pub shell: Option<crate::Shell>,
    pub env: &'a std::collections::BTreeMap<String, String>,
    pub cwd: Option<&'a str>,
    /// The child's stdin, stdout, stderr (made inheritable; the only handles it inherits).
    pub stdio: [HANDLE; 3],
}

/// A started process (already in its job and resumed).
#[derive(Debug)]
pub struct Child {
    pub process: OwnedHandle,
}

impl Child {
    /// Waits for the exit code (`timeout_ms: None` = forever); `Ok(None)` on timeout.
    pub fn wait(&self, timeout_ms: Option<u32>) -> Result<Option<u32>> {
        // SAFETY: a process handle we own.
        let w = unsafe { WaitForSingleObject(self.process.0, timeout_ms.unwrap_or(INFINITE)) };
        if w != WAIT_OBJECT_0 {
            return Ok(None);
        }
        let mut code = 0u32;
        // SAFETY: a process handle with PROCESS_QUERY_INFORMATION (CreateProcess gives all access).
        if unsafe { GetExitCodeProcess(self.process.0, &mut code) } == 0 {
            return Err(os_err("GetExitCodeProcess"));
        }
        Ok(Some(code))
    }
}

/// `CreateProcessW` (suspended) → `AssignProcessToJobObject` → `ResumeThread`, so no code of the
/// child runs outside the job. Program resolution is the caller's (`argv[0]` is passed as
/// `lpApplicationName` when it contains a separator, else searched by `CreateProcessW`).
pub fn spawn(
    req: &SpawnRequest<'_>,
    job: &Job,
    container: Option<&Container<'_>>,
) -> Result<Child> {
    let program = req
        .argv
        .first()
        .ok_or_else(|| SandboxError::InvalidArg("argv is empty".into()))?;
    if super::cmdline::is_batch_file(program) {
        return Err(SandboxError::InvalidArg(
            "batch files (.bat, .cmd) are refused: cmd.exe re-parses their arguments".into(),
        ));
    }
    let mut cmdline: Vec<u16> = wide(&super::cmdline::policy_command_line(req.argv, req.shell)?);
    let env = super::envblock::environment_block(req.env)?;
    let cwd = req.cwd.map(wide);
    let app = program.contains(['\\', '/']).then(|| wide(program));

    let mut attr_count = 1u32;
    if container.is_some() {
        attr_count += 2;
    }
    let mut size = 0usize;
    // SAFETY: the documented size query (null list, returns false with the size).
    unsafe { InitializeProcThreadAttributeList(null_mut(), attr_count, 0, &mut size) };
    let mut attr_buf = vec![0u64; size.div_ceil(8)];
    let attrs = attr_buf.as_mut_ptr().cast::<c_void>();
    // SAFETY: `attrs` has `size` bytes, 8-aligned.
    if unsafe { InitializeProcThreadAttributeList(attrs, attr_count, 0, &mut size) } == 0 {
        return Err(os_err("InitializeProcThreadAttributeList"));
    }
    struct AttrList(*mut c_void);
    impl Drop for AttrList {
        fn drop(&mut self) {
            // SAFETY: initialized above, deleted once, before its buffer is freed.
            unsafe { DeleteProcThreadAttributeList(self.0) };
        }
    }
    let _attr_guard = AttrList(attrs);

    let mut handles: Vec<HANDLE> = Vec::with_capacity(3);
    for h in req.stdio {
        if !handles.contains(&h) {
            handles.push(h);
        }
    }
    for &h in &handles {
        // SAFETY: the caller's valid handles; made inheritable for the handle list below.
        if unsafe { SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
            return Err(os_err("SetHandleInformation"));
        }
    }
    // SAFETY: `handles` outlives CreateProcessW (the list stores the pointer, documented).
    if unsafe {
        UpdateProcThreadAttribute(
            attrs,
            0,
            PROC_THREAD_ATTRIBUTE_HANDLE_LIST as usize,
            handles.as_ptr().cast(),
            std::mem::size_of_val(handles.as_slice()),
            null_mut(),
            null(),
        )
    } == 0
    {
        return Err(os_err("UpdateProcThreadAttribute(HANDLE_LIST)"));
    }
    let mut caps = SECURITY_CAPABILITIES {
        AppContainerSid: null_mut(),
        Capabilities: null_mut(),
        CapabilityCount: 0,
        Reserved: 0,
    };
    let lpac_policy: u32 = ALL_APPLICATION_PACKAGES_OPT_OUT;
    if let Some(c) = container {
        caps.AppContainerSid = c.sid;
        caps.Capabilities = c.capabilities.as_ptr().cast_mut();
        caps.CapabilityCount = c.capabilities.len() as u32;
        // SAFETY: `caps` (and the SIDs it points to) outlive CreateProcessW.
        if unsafe {
            UpdateProcThreadAttribute(
                attrs,
                0,
                PROC_THREAD_ATTRIBUTE_SECURITY_CAPABILITIES as usize,
                (&caps as *const SECURITY_CAPABILITIES).cast(),
                std::mem::size_of::<SECURITY_CAPABILITIES>(),
                null_mut(),
                null(),
            )
        } == 0
        {
            return Err(os_err("UpdateProcThreadAttribute(SECURITY_CAPABILITIES)"));
        }
        if c.lpac {
            // SAFETY: a DWORD value that outlives CreateProcessW.
            if unsafe {
                UpdateProcThreadAttribute(
                    attrs,
                    0,
                    PROC_THREAD_ATTRIBUTE_ALL_APPLICATION_PACKAGES_POLICY as usize,
                    (&lpac_policy as *const u32).cast(),
                    std::mem::size_of::<u32>(),
                    null_mut(),
                    null(),
                )
            } == 0
            {
                return Err(os_err(
                    "UpdateProcThreadAttribute(ALL_APPLICATION_PACKAGES_POLICY)",
                ));
            }
        }
    }

    // SAFETY: zeroed is the documented initial state of STARTUPINFOEXW (cb set below).
    let mut si: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
    si.StartupInfo.cb = std::mem::size_of::<STARTUPINFOEXW>() as u32;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = req.stdio[0];
    si.StartupInfo.hStdOutput = req.stdio[1];
    si.StartupInfo.hStdError = req.stdio[2];
    si.lpAttributeList = attrs;
    // SAFETY: zeroed PROCESS_INFORMATION is filled by CreateProcessW.
    let mut pi: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: `cmdline` is a mutable NUL-terminated buffer (CreateProcessW may write to it);
    // `env` is a UTF-16 block ending in two NULs (CREATE_UNICODE_ENVIRONMENT); `cwd` and `app`
    // are NUL-terminated or null; handles are inherited only through the handle list.
    let ok = unsafe {
        CreateProcessW(
            app.as_ref().map_or(null(), |a| a.as_ptr()),
            cmdline.as_mut_ptr(),
            null(),
            null(),
            1,
            EXTENDED_STARTUPINFO_PRESENT
                | CREATE_UNICODE_ENVIRONMENT
                | CREATE_SUSPENDED
                | CREATE_NO_WINDOW,
            env.as_ptr().cast(),
            cwd.as_ref().map_or(null(), |c| c.as_ptr()),
            &si.StartupInfo,
            &mut pi,
        )
    };
    if ok == 0 {
        return Err(os_err("CreateProcessW"));
    }
    let process = OwnedHandle(pi.hProcess);
    let thread = OwnedHandle(pi.hThread);
    // SAFETY: both handles are valid; a suspended process not yet running any of its code.
    if unsafe { AssignProcessToJobObject(job.0.0, process.0) } == 0 {
        let e = os_err("AssignProcessToJobObject");
        // SAFETY: our suspended child; it must not run outside the job.
        unsafe { TerminateProcess(process.0, 125) };
        return Err(e);
    }
    // SAFETY: the primary thread of the suspended child.
    if unsafe { ResumeThread(thread.0) } == u32::MAX {
        return Err(os_err("ResumeThread"));
    }
    Ok(Child { process })
}

/// Runs the policy's command in the plan's AppContainer with the helper's own stdio; returns the
/// exit code. **Written, not run** (needs Windows; Wine has no AppContainer isolation).
pub fn run_contained(
    plan: &SandboxPlan,
    argv: &[String],
    shell: Option<crate::Shell>,
    env: &std::collections::BTreeMap<String, String>,
    stdio: [HANDLE; 3],
) -> Result<u32> {
    let sid = app_container_sid(&plan.profile)?;
    let cap_sids: Vec<Sid> = plan
        .capabilities
        .iter()
        .map(|s| string_sid(s))
        .collect::<Result<_>>()?;
    let caps: Vec<SID_AND_ATTRIBUTES> = cap_sids
        .iter()
        .map(|s| SID_AND_ATTRIBUTES {
            Sid: s.ptr,
            Attributes: SE_GROUP_ENABLED,
        })
        .collect();
    let _acl = apply_acl(plan, &sid)?;
    let job = Job::new(&plan.job)?;
    let cwd = plan.cwd.as_ref().map(|c| c.display());
    let child = spawn(
        &SpawnRequest {
            argv,
            shell,
            env,
            cwd: cwd.as_deref(),
            stdio,
        },
        &job,
        Some(&Container {
            sid: sid.ptr,
            capabilities: &caps,
            lpac: plan.lpac,
        }),
    )?;
    let code = child.wait(None)?.unwrap_or(125);
    drop(job); // kill-on-close: nothing of the tree outlives the command
    Ok(code)
}

/// The helper's own stdin, stdout, stderr handles.
pub fn own_stdio() -> [HANDLE; 3] {
    use windows_sys::Win32::System::Console::{
        GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
    };
    // SAFETY: GetStdHandle has no preconditions; it returns the (possibly null) handles.
    unsafe {
        [
            GetStdHandle(STD_INPUT_HANDLE),
            GetStdHandle(STD_OUTPUT_HANDLE),
            GetStdHandle(STD_ERROR_HANDLE),
        ]
    }
}

/// Reads the policy frame (`<len>\n<json>`, [`crate::frame`]) from stdin without buffering past
/// it (the rest is the command's stdin), like the Unix helpers.
pub fn read_policy_from_stdin() -> std::result::Result<String, String> {
    use std::os::windows::io::FromRawHandle;
    let h = own_stdio()[0];
    if h.is_null() {
        return Err("no stdin".into());
    }
    // SAFETY: the process's stdin handle, borrowed: ManuallyDrop never closes it.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_handle(h) });
    let buf = crate::frame::read_frame(&mut *f)?;
    String::from_utf8(buf).map_err(|e| e.to_string())
}

/// Host facts for the plan, from the policy's environment (the spawners give the helper an
/// empty one): `SystemRoot`, `ProgramFiles`, `ProgramFiles(x86)`, `ProgramData`.
pub fn host_facts(policy: &crate::ExecPolicy) -> super::plan::HostFacts {
    let get = |name: &str| {
        policy
            .env
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let system_root = get("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
    let program_files = get("ProgramFiles").unwrap_or_else(|| r"C:\Program Files".into());
    let mut package_readable = vec![system_root.clone(), program_files.clone()];
    if let Some(x86) = get("ProgramFiles(x86)") {
        package_readable.push(x86);
    }
    let mut default_readable = package_readable.clone();
    if let Some(data) = get("ProgramData") {
        default_readable.push(data);
    }
    super::plan::HostFacts {
        default_readable,
        package_readable,
        logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        lpac: false,
    }
}

/// `CommandLineToArgvW(GetCommandLineW())`: how Windows itself splits this process's command line.
pub fn command_line_to_argv() -> Vec<String> {
    use windows_sys::Win32::System::Environment::GetCommandLineW;
    use windows_sys::Win32::UI::Shell::CommandLineToArgvW;
    let mut n = 0i32;
    // SAFETY: GetCommandLineW returns the process's NUL-terminated command line; the result of
    // CommandLineToArgvW is one LocalAlloc block we free below.
    let argv = unsafe { CommandLineToArgvW(GetCommandLineW(), &mut n) };
    if argv.is_null() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(n.max(0) as usize);
    for i in 0..n.max(0) as usize {
        // SAFETY: `argv` has `n` valid NUL-terminated wide strings.
        let s = unsafe {
            let p = *argv.add(i);
            let mut len = 0usize;
            while *p.add(len) != 0 {
                len += 1;
            }
            String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
        };
        out.push(s);
    }
    // SAFETY: allocated by CommandLineToArgvW (documented: LocalFree).
    unsafe { LocalFree(argv.cast()) };
    out
}

/// The helper's `--probe` on Windows: whether the AppContainer API answers here
/// (`DeriveAppContainerSidFromAppContainerName`, which needs no profile and changes nothing).
/// Written, not run on Windows (Wine may answer either way; it does not isolate).
pub fn probe_appcontainer() -> bool {
    let name = wide("ku0.sandbox.probe");
    let mut sid: PSID = null_mut();
    // SAFETY: NUL-terminated name that outlives the call; on success `sid` is a SID documented to
    // be freed with FreeSid, which we do at once.
    let hr = unsafe { DeriveAppContainerSidFromAppContainerName(name.as_ptr(), &mut sid) };
    if hr < 0 || sid.is_null() {
        return false;
    }
    // SAFETY: allocated by DeriveAppContainerSidFromAppContainerName (documented: FreeSid).
    unsafe { FreeSid(sid) };
    true
}
