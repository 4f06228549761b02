//! The gate confines itself at start-up (issue 9): seccomp and
//! no_new_privs are in force on the running process, its own self-check
//! saw exec refused, and it still serves (Unix socket and TCP listener).

mod common;
use common::{tcp_request, Gate, Opts};

/// The value of `field` in /proc/<pid>/status.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status:\n{status}"))
}

/// Whether this kernel has Landlock (the gate uses it when it does).
fn kernel_has_landlock() -> bool {
    latchgate::sys::landlock::abi().is_ok()
}

#[test]
fn a_gate_process_cannot_exec() {
    let gate = Gate::start("confine");
    let pid = gate.child.as_ref().unwrap().id();
    // Mode 2: a seccomp filter; every thread has it (TSYNC, and the
    // threads started later inherit it).
    assert_eq!(status_field(pid, "Seccomp"), "2", "log:\n{}", gate.log());
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    let task_dir = format!("/proc/{pid}/task");
    let mut threads = 0;
    for task in std::fs::read_dir(&task_dir).unwrap() {
        let tid: u32 = task.unwrap().file_name().to_str().unwrap().parse().unwrap();
        // A short-lived thread (the connection that answered the start's
        // health check) may end between the listing and this read.
        let Ok(status) = std::fs::read_to_string(format!("{task_dir}/{tid}/status")) else {
            continue;
        };
        assert!(status.contains("Seccomp:\t2"), "thread {tid}:\n{status}");
        threads += 1;
    }
    assert!(threads > 1, "expected the gate's worker threads");

    let log = gate.log();
    // The gate tried to run /bin/true after confining itself and got EPERM.
    assert!(log.contains("latchgate: self-check: exec refused"), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("latchgate: confined: "))
        .unwrap_or_else(|| panic!("no confinement line:\n{log}"));
    assert!(line.contains("syscalls refused)"), "{line}");
    if kernel_has_landlock() {
        assert!(line.contains("Landlock ABI "), "{line}");
        assert!(line.contains("no exec"), "{line}");
        assert!(line.contains(&gate.data().display().to_string()), "{line}");
        assert!(line.contains(&gate.dir.join("run").display().to_string()));
        assert!(line.contains(" ro "), "{line}");
    } else {
        assert!(
            line.contains("not confined by Landlock: kernel has none"),
            "{line}"
        );
    }
    // The line comes before the banner: confinement precedes serving.
    let confined_at = log.find("latchgate: confined: ").unwrap();
    let ready_at = log.find(" ready in ").unwrap();
    assert!(confined_at < ready_at, "{log}");
}

#[test]
fn a_confined_gate_binds_its_tcp_port_and_serves_and_stops_cleanly() {
    let mut gate = Gate::start_with(
        "confine-tcp",
        Opts {
            tcp: true,
            ..Opts::default()
        },
    );
    let addr = gate.tcp.clone().unwrap();
    let r = tcp_request(&addr, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    let r = gate.admin("GET", "/v1/admin/status", b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let log = gate.log();
    let port = addr.rsplit(':').next().unwrap();
    if log.contains("tcp bind:") {
        assert!(log.contains(&format!("tcp bind: {port}")), "{log}");
    }
    // Draining writes the final checkpoint and removes both sockets: all
    // within the data and runtime directories.
    assert_eq!(gate.stop(), 0, "log:\n{}", gate.log());
    assert!(!gate.socket.exists());
    assert!(!gate.admin_socket().exists());
    assert!(gate.log().contains("latchgate: stopped"));
}
