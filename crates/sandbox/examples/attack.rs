//! Attack probes run *inside* the sandbox by the escape tests. Each subcommand attempts one
//! escape and prints `ESCAPED` (exit 0) when the attempt succeeded, `BLOCKED <reason>` (exit 3)
//! when the kernel refused it.
#![allow(
    clippy::unwrap_used,
    reason = "test code: an unexpected error should fail loudly with its message"
)]

#[cfg(target_os = "linux")]
use std::ffi::CString;

#[cfg(target_os = "linux")]
fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

#[cfg(target_os = "linux")]
fn verdict(ok: bool, what: &str) -> ! {
    if ok {
        println!("ESCAPED {what}");
        std::process::exit(0);
    }
    println!("BLOCKED {what}: {}", errno());
    std::process::exit(3);
}

#[cfg(target_os = "linux")]
fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

#[cfg(target_os = "linux")]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    // SAFETY: every call below is a raw syscall attempt with valid arguments.
    unsafe {
        match arg(0).as_str() {
            "ptrace" => {
                let pid: i32 = arg(1).parse().unwrap_or(1);
                let r = libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0);
                verdict(r == 0, "ptrace attach")
            }
            "io_uring" => {
                let mut params = [0u8; 120];
                let r = libc::syscall(libc::SYS_io_uring_setup, 8u32, params.as_mut_ptr());
                verdict(r >= 0, "io_uring_setup")
            }
            #[cfg(target_arch = "x86_64")] // x32 and i386 are x86_64 kernel ABIs
            "x32" => {
                // getpid through the x32 ABI (syscall number | 0x40000000).
                let r = libc::syscall(libc::SYS_getpid | 0x4000_0000);
                verdict(r > 0, "x32 getpid")
            }
            #[cfg(target_arch = "x86_64")]
            "i386" => {
                // int 0x80 getpid (i386 nr 20): the arch check kills the process.
                let mut ret: i64 = 20;
                std::arch::asm!("int 0x80", inout("rax") ret, options(nostack));
                verdict(ret > 0, "i386 int80 getpid")
            }
            "clone3" => {
                let mut args = [0u64; 11];
                args[4] = libc::SIGCHLD as u64; // exit_signal
                let r = libc::syscall(libc::SYS_clone3, args.as_mut_ptr(), 88usize);
                if r == 0 {
                    libc::_exit(0);
                }
                verdict(r > 0, "clone3")
            }
            "unshare" => {
                let r = libc::unshare(libc::CLONE_NEWUSER);
                let r2 = libc::unshare(libc::CLONE_NEWNET);
                let r3 = libc::unshare(libc::CLONE_NEWNS);
                verdict(r == 0 || r2 == 0 || r3 == 0, "unshare")
            }
            "clone_ns" => {
                let r = libc::syscall(
                    libc::SYS_clone,
                    (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64,
                    0u64,
                    0u64,
                    0u64,
                    0u64,
                );
                if r == 0 {
                    libc::_exit(0);
                }
                verdict(r > 0, "clone(CLONE_NEWUSER)")
            }
            "tiocsti" => {
                let ch: u8 = b'x';
                let r0 = libc::ioctl(0, libc::TIOCSTI, &ch);
                let fd = libc::open(c("/dev/tty").as_ptr(), libc::O_RDWR);
                let r1 = if fd >= 0 {
                    libc::ioctl(fd, libc::TIOCSTI, &ch)
                } else {
                    -1
                };
                verdict(r0 == 0 || r1 == 0, "TIOCSTI")
            }
            "socket" => {
                let fam: i32 = arg(1).parse().unwrap();
                let ty: i32 = arg(2).parse().unwrap();
                let proto: i32 = arg(3).parse().unwrap_or(0);
                let fd = libc::socket(fam, ty, proto);
                verdict(fd >= 0, &format!("socket({fam},{ty},{proto})"))
            }
            "abstract" => {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                let mut addr: libc::sockaddr_un = std::mem::zeroed();
                addr.sun_family = libc::AF_UNIX as u16;
                let name = arg(1);
                for (i, b) in name.bytes().enumerate() {
                    addr.sun_path[i + 1] = b as libc::c_char;
                }
                let len = (2 + 1 + name.len()) as u32;
                let r = libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len);
                verdict(r == 0, "connect abstract unix socket")
            }
            "unix" => {
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                let mut addr: libc::sockaddr_un = std::mem::zeroed();
                addr.sun_family = libc::AF_UNIX as u16;
                let p = arg(1);
                for (i, b) in p.bytes().enumerate() {
                    addr.sun_path[i] = b as libc::c_char;
                }
                let r = libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as u32,
                );
                verdict(r == 0, "connect path unix socket")
            }
            "tcp" => {
                // tcp <ip4> <port>
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                if fd < 0 {
                    verdict(false, "tcp socket");
                }
                let ip: std::net::Ipv4Addr = arg(1).parse().unwrap();
                let port: u16 = arg(2).parse().unwrap();
                let addr = libc::sockaddr_in {
                    sin_family: libc::AF_INET as u16,
                    sin_port: port.to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(ip).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                let r = libc::connect(
                    fd,
                    (&addr as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                );
                verdict(r == 0, "tcp connect")
            }
            "chmod_suid" => {
                let r = libc::chmod(c(&arg(1)).as_ptr(), 0o4755);
                verdict(r == 0, "chmod u+s")
            }
            "open_suid" => {
                let fd = libc::open(
                    c(&arg(1)).as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY,
                    0o4755 as libc::c_uint,
                );
                let meta = std::fs::metadata(arg(1));
                use std::os::unix::fs::PermissionsExt;
                let suid = meta
                    .map(|m| m.permissions().mode() & 0o4000 != 0)
                    .unwrap_or(false);
                verdict(fd >= 0 && suid, "open(O_CREAT, 04755)")
            }
            "mknod" => {
                let r = libc::mknod(
                    c(&arg(1)).as_ptr(),
                    libc::S_IFCHR | 0o666,
                    libc::makedev(1, 3),
                );
                verdict(r == 0, "mknod char device")
            }
            "setxattr" => {
                let v = b"x";
                let r = libc::setxattr(
                    c(&arg(1)).as_ptr(),
                    c("user.ku0").as_ptr(),
                    v.as_ptr().cast(),
                    1,
                    0,
                );
                verdict(r == 0, "setxattr")
            }
            "truncate" => {
                let r = libc::truncate(c(&arg(1)).as_ptr(), 0);
                verdict(r == 0, "truncate")
            }
            "chmod" => {
                let r = libc::chmod(c(&arg(1)).as_ptr(), 0o777);
                verdict(r == 0, "chmod")
            }
            "keyctl" => {
                let r = libc::syscall(
                    libc::SYS_add_key,
                    c("user").as_ptr(),
                    c("k").as_ptr(),
                    c("v").as_ptr(),
                    1usize,
                    -2i32,
                );
                verdict(r >= 0, "add_key")
            }
            "bpf" => {
                let mut attr = [0u8; 128];
                let r = libc::syscall(libc::SYS_bpf, 0i32, attr.as_mut_ptr(), 128u32);
                verdict(r >= 0, "bpf")
            }
            "perf" => {
                let mut attr = [0u8; 128];
                attr[4] = 128; // size
                let r = libc::syscall(
                    libc::SYS_perf_event_open,
                    attr.as_mut_ptr(),
                    0i32,
                    -1i32,
                    -1i32,
                    0u64,
                );
                verdict(r >= 0, "perf_event_open")
            }
            "mount" => {
                let r = libc::mount(
                    c("none").as_ptr(),
                    c("/tmp").as_ptr(),
                    c("tmpfs").as_ptr(),
                    0,
                    std::ptr::null(),
                );
                verdict(r == 0, "mount")
            }
            "fds" => {
                // Report any open descriptor above 2.
                let mut open = Vec::new();
                for fd in 3..1024 {
                    if libc::fcntl(fd, libc::F_GETFD) >= 0 {
                        open.push(fd);
                    }
                }
                // fd 3 may be the directory stream of this very check; there is none here.
                verdict(!open.is_empty(), &format!("inherited fds {open:?}"))
            }
            "proc_mem" => {
                let path = format!("/proc/{}/mem", arg(1));
                let fd = libc::open(c(&path).as_ptr(), libc::O_RDWR);
                verdict(fd >= 0, "open /proc/<pid>/mem")
            }
            "kill" => {
                let pid: i32 = arg(1).parse().unwrap();
                let r = libc::kill(pid, 0);
                verdict(r == 0, "signal outside")
            }
            "forks" => {
                // Fork sleeping children until the kernel refuses; print how many exist.
                let max: usize = arg(1).parse().unwrap_or(1000);
                let mut n = 0usize;
                while n < max {
                    let pid = libc::fork();
                    if pid == 0 {
                        libc::sleep(10);
                        libc::_exit(0);
                    }
                    if pid < 0 {
                        break;
                    }
                    n += 1;
                }
                println!("FORKED {n}");
                std::process::exit(0);
            }
            "shmem" => {
                // Pin <MiB> of shared memory outside the per-process data limit: a memfd, an
                // anonymous shared mapping or a SysV segment, each touched page by page.
                let mib: usize = arg(2).parse().unwrap_or(384);
                let len = mib << 20;
                let (fd, flags) = match arg(1).as_str() {
                    "memfd" => {
                        let fd = libc::syscall(libc::SYS_memfd_create, c("x").as_ptr(), 0) as i32;
                        if fd < 0 || libc::ftruncate(fd, len as libc::off_t) < 0 {
                            verdict(false, "memfd_create");
                        }
                        (fd, libc::MAP_SHARED)
                    }
                    "sysv" => {
                        let id = libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600);
                        if id < 0 {
                            verdict(false, "shmget");
                        }
                        let p = libc::shmat(id, std::ptr::null(), 0);
                        if p as isize == -1 {
                            verdict(false, "shmat");
                        }
                        for i in (0..len).step_by(4096) {
                            *(p as *mut u8).add(i) = 1;
                        }
                        verdict(true, &format!("pinned {mib} MiB of sysv shm"))
                    }
                    _ => (-1, libc::MAP_SHARED | libc::MAP_ANONYMOUS),
                };
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    flags,
                    fd,
                    0,
                );
                if p == libc::MAP_FAILED {
                    verdict(false, "mmap shared");
                }
                for i in (0..len).step_by(4096) {
                    *(p as *mut u8).add(i) = 1;
                }
                verdict(true, &format!("pinned {mib} MiB of shared memory"))
            }
            other => {
                eprintln!("unknown attack {other}");
                std::process::exit(2);
            }
        }
    }
}

/// The probes are Linux syscalls; elsewhere there is no sandbox to attack.
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("attack probes exist for Linux only");
    std::process::exit(2);
}
