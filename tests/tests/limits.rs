//! The daemon against a peer that does not play by the protocol: headers that never
//! end, bodies over the limit, positional params, thousands of random and truncated
//! frames. Each is refused or cut off, and the daemon goes on serving everyone else.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use baton_tests::TestWorkspace;
use serde_json::{json, Value};

/// A raw connection to the workspace's daemon, which the test starts first.
async fn raw(workspace: &TestWorkspace) -> UnixStream {
    drop(workspace.client(false).await);
    let stream = UnixStream::connect(workspace.workspace().socket_path()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

fn framed(body: &[u8]) -> Vec<u8> {
    baton_protocol::framing::frame(body)
}

/// Reads one framed answer from a raw connection.
fn read_answer(stream: &mut UnixStream) -> Value {
    let mut header = Vec::new();
    let mut byte = [0u8];
    while !header.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("an answer");
        header.push(byte[0]);
    }
    let header = String::from_utf8(header).unwrap();
    let length: usize = header
        .trim()
        .strip_prefix("Content-Length: ")
        .expect("a Content-Length header")
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The daemon's resident memory, in KiB.
fn resident_kib(workspace: &TestWorkspace) -> u64 {
    memory_kib(workspace.daemon_pid().expect("a daemon runs"), "VmRSS")
}

/// A memory figure of a process (`VmRSS`, `VmHWM`) from /proc, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// Writes `bytes` until the daemon closes the connection; answers how many it took.
fn write_until_closed(stream: &mut UnixStream, chunk: &[u8], most: usize) -> usize {
    let mut written = 0;
    while written < most {
        match stream.write(chunk) {
            Ok(n) => written += n,
            Err(_) => return written,
        }
    }
    panic!("the daemon took {written} bytes of one header without closing the connection");
}

async fn still_serves(workspace: &TestWorkspace) {
    let client = workspace.client(false).await;
    let status = client.call("baton/status", Value::Null).await;
    assert!(status.is_ok(), "the daemon still serves: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_that_never_ends_is_cut_off_at_8_kib_and_the_daemon_goes_on() {
    let workspace = TestWorkspace::new();
    let mut one_line = raw(&workspace).await;
    let before = resident_kib(&workspace);
    // One header line of 50 MiB was buffered whole and rescanned at every read.
    let taken = write_until_closed(&mut one_line, &[b'x'; 64 * 1024], 50 << 20);
    assert!(taken < 16 << 20, "the daemon took {taken} bytes");
    let mut many_lines = raw(&workspace).await;
    let taken = write_until_closed(&mut many_lines, &b"X-Padding: 1\r\n".repeat(4096), 50 << 20);
    assert!(taken < 16 << 20, "the daemon took {taken} bytes");
    let grown = resident_kib(&workspace).saturating_sub(before);
    assert!(grown < 16 * 1024, "the daemon grew by {grown} KiB");
    still_serves(&workspace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_64_mib_closes_the_connection_before_it_is_read() {
    let workspace = TestWorkspace::new();
    let mut stream = raw(&workspace).await;
    stream
        .write_all(b"Content-Length: 67108865\r\n\r\n{")
        .unwrap();
    let mut rest = Vec::new();
    let read = stream.read_to_end(&mut rest);
    let closed = match &read {
        Ok(_) => true,
        Err(err) => err.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "the daemon closes the connection: {read:?}");
    still_serves(&workspace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positional_params_are_refused_with_32602_a_short_excerpt_and_no_change() {
    let workspace = TestWorkspace::new();
    let mut stream = raw(&workspace).await;
    let initialize =
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}});
    stream
        .write_all(&framed(initialize.to_string().as_bytes()))
        .unwrap();
    read_answer(&mut stream);
    let long = "z".repeat(1 << 20);
    let request = json!({"jsonrpc": "2.0", "id": 2, "method": "baton/addTask", "params": [long]});
    stream
        .write_all(&framed(request.to_string().as_bytes()))
        .unwrap();
    let answer = read_answer(&mut stream);
    assert_eq!(answer["id"], 2);
    let shown: String = answer.to_string().chars().take(300).collect();
    assert_eq!(answer["error"]["code"], -32602, "{shown}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.len() < 400, "{} bytes echoed", message.len());

    // A method without parameters given some quotes at most an excerpt of them.
    let request =
        json!({"jsonrpc": "2.0", "id": 3, "method": "baton/status", "params": {"x": long}});
    stream
        .write_all(&framed(request.to_string().as_bytes()))
        .unwrap();
    let answer = read_answer(&mut stream);
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.len() < 400, "{} bytes echoed", message.len());

    let client = workspace.client(false).await;
    let tasks = client.call("baton/listTasks", json!({})).await.unwrap();
    assert_eq!(tasks, json!([]), "nothing was added");
}

/// A small deterministic generator, so that a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One hostile frame: random bytes, a valid frame cut short, a frame of random JSON,
/// a lying Content-Length, or a request with odd params.
fn hostile_frame(random: &mut Random) -> Vec<u8> {
    let request = json!({"jsonrpc": "2.0", "id": random.below(1000), "method": "baton/addTask", "params": {"description": "fuzzed"}});
    let valid = framed(request.to_string().as_bytes());
    match random.below(6) {
        0 => {
            let n = random.below(300);
            random.bytes(n)
        }
        1 => {
            let cut = random.below(valid.len() as u64);
            valid[..cut].to_vec()
        }
        2 => {
            let n = random.below(200);
            framed(&random.bytes(n))
        }
        3 => format!(
            "Content-Length: {}\r\n\r\n{{}}",
            random.next() % 100_000_000
        )
        .into_bytes(),
        4 => {
            let params = [
                json!(null),
                json!(1),
                json!("s"),
                json!([]),
                json!({"description": 5}),
            ][random.below(5)]
            .clone();
            let request =
                json!({"jsonrpc": "2.0", "id": 9, "method": "baton/addTask", "params": params});
            framed(request.to_string().as_bytes())
        }
        _ => {
            let mut bytes = valid;
            let at = random.below(bytes.len() as u64);
            bytes[at] = random.next() as u8;
            bytes
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_random_and_truncated_frames_leave_the_daemon_serving() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let seed = 0x5eed_0000_0000_0001;
    let mut random = Random(seed);
    let socket = workspace.workspace().socket_path();
    let frames = tokio::task::spawn_blocking(move || {
        let (mut sent, mut connections) = (0, 0);
        // A connection the daemon closes at a bad frame takes no more, and how soon it
        // closes depends on the machine: connect again until a thousand frames went in.
        while sent < 1000 || connections < 200 {
            connections += 1;
            assert!(connections < 5000, "the daemon refused frame after frame");
            let mut stream = UnixStream::connect(&socket).expect("the daemon accepts");
            if random.below(2) == 0 {
                // Past the handshake, frames reach the methods themselves.
                let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": {}}});
                let _ = stream.write_all(&framed(initialize.to_string().as_bytes()));
            }
            for _ in 0..random.below(20) + 1 {
                if stream.write_all(&hostile_frame(&mut random)).is_err() {
                    break;
                }
                sent += 1;
            }
        }
        sent
    })
    .await
    .unwrap();
    assert!(
        frames >= 1000,
        "seed {seed:#x}: only {frames} frames were sent"
    );
    // Whatever it was sent, the daemon answers, and its board is consistent.
    let status = client.call("baton/status", Value::Null).await;
    assert!(status.is_ok(), "seed {seed:#x}: {status:?}");
    let added = client
        .call("baton/addTask", json!({"description": "after the storm"}))
        .await
        .expect("a task is added after the storm");
    assert_eq!(added["description"], "after the storm");
}

/// The daemon's peak resident memory since `from_now_on`, in KiB.
fn peak_kib(pid: u32) -> u64 {
    memory_kib(pid, "VmHWM")
}

/// Makes the process's peak its present memory, so that a later peak is what came after.
fn from_now_on(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("the peak is reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_every_task_costs_the_daemon_about_the_answer_not_a_tree_of_it() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    for batch in 0..20 {
        let tasks: Vec<Value> = (0..1_000)
            .map(|n| json!({ "description": format!("task {batch}-{n}: one small thing to do") }))
            .collect();
        client
            .call("baton/addTasks", json!({ "tasks": tasks }))
            .await
            .expect("added");
    }
    let pid = workspace.daemon_pid().expect("a daemon runs");
    for (method, params) in [
        ("baton/listTasks", json!({})),
        ("baton/listTasks", json!({ "status": "available" })),
    ] {
        from_now_on(pid);
        let before = peak_kib(pid);
        let answer = client.call(method, params).await.expect("answered");
        let size = answer.to_string().len() as u64;
        let grew = (peak_kib(pid) - before) * 1024;
        // The tasks copied out of the board, and the answer's text, twice at most
        // (framed); a tree of JSON values was 23 times the text.
        assert!(
            grew < 4 * size.max(1_000_000),
            "{method}: the daemon grew by {grew} bytes for an answer of {size}"
        );
    }
    assert_eq!(
        client
            .call("baton/listTasks", json!({}))
            .await
            .unwrap()
            .as_array()
            .map(Vec::len),
        Some(20_000)
    );
}

#[tokio::test]
async fn lists_are_refused_before_initialize_and_after_shutdown_as_every_request_is() {
    let workspace = TestWorkspace::new();
    let mut stream = raw(&workspace).await;
    let list = |id: u64| {
        framed(
            json!({ "jsonrpc": "2.0", "id": id, "method": "baton/listTasks", "params": {} })
                .to_string()
                .as_bytes(),
        )
    };
    stream.write_all(&list(1)).unwrap();
    assert_eq!(read_answer(&mut stream)["error"]["code"], -32002);
    let initialize = json!({ "jsonrpc": "2.0", "id": 2, "method": "initialize", "params": { "capabilities": {} } });
    stream
        .write_all(&framed(initialize.to_string().as_bytes()))
        .unwrap();
    assert!(read_answer(&mut stream)["result"]["serverInfo"].is_object());
    stream.write_all(&list(3)).unwrap();
    assert_eq!(read_answer(&mut stream)["result"], json!([]));
    let shutdown = json!({ "jsonrpc": "2.0", "id": 4, "method": "shutdown" });
    stream
        .write_all(&framed(shutdown.to_string().as_bytes()))
        .unwrap();
    assert!(read_answer(&mut stream)["error"].is_null());
    stream.write_all(&list(5)).unwrap();
    let refused = read_answer(&mut stream);
    assert!(refused["error"]["code"].is_i64(), "{refused}");
}

/// Bytes that unfinished large requests may hold in the daemon, all connections
/// together (docs/protocol.md).
const PENDING_BUDGET_MIB: u64 = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_large_requests_hold_at_most_the_shared_budget_and_are_cut_off_when_they_stall()
{
    let workspace = TestWorkspace::new();
    drop(raw(&workspace).await);
    let pid = workspace.daemon_pid().expect("a daemon runs");
    from_now_on(pid);
    let before = peak_kib(pid);
    // Peers that each announce a request of 64 MiB, send 40 MiB of it and stall:
    // each used to hold what it sent, and the header alone had 64 MiB set aside.
    let socket = workspace.workspace().socket_path();
    let peers: Vec<_> = (0..24)
        .map(|_| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut stream = UnixStream::connect(&socket).expect("connects");
                stream
                    .set_write_timeout(Some(Duration::from_secs(3)))
                    .unwrap();
                stream
                    .write_all(b"Content-Length: 67108864\r\n\r\n")
                    .unwrap();
                let chunk = vec![b' '; 1 << 20];
                for _ in 0..40 {
                    if stream.write_all(&chunk).is_err() {
                        break;
                    }
                }
                stream
            })
        })
        .collect();
    let stalled: Vec<UnixStream> = peers.into_iter().map(|peer| peer.join().unwrap()).collect();
    let grown = peak_kib(pid).saturating_sub(before);
    assert!(
        grown < (PENDING_BUDGET_MIB + 32) * 1024,
        "24 stalled peers grew the daemon by {grown} KiB"
    );
    still_serves(&workspace).await;

    // A large request of a client that keeps sending gets through once the stalled
    // peers are cut off.
    let client = workspace.client(false).await;
    let description = "d".repeat(60 << 20);
    let added = client
        .call("baton/addTask", json!({ "description": description }))
        .await;
    let refused = added.expect_err("a description of 60 MiB is over the field's limit");
    assert!(
        refused.to_string().contains("description"),
        "the request was read and answered: {refused}"
    );
    for mut peer in stalled {
        let mut rest = Vec::new();
        let read = peer.read_to_end(&mut rest);
        assert!(
            matches!(&read, Ok(0)) || read.is_err(),
            "a stalled peer is disconnected: {read:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_request_that_would_parse_to_gigabytes_is_refused_unparsed() {
    let workspace = TestWorkspace::new();
    let mut stream = raw(&workspace).await;
    let pid = workspace.daemon_pid().expect("a daemon runs");
    from_now_on(pid);
    let before = peak_kib(pid);
    // 60 MiB of `[0,0,…]` is 31 million values, a gigabyte once parsed.
    let zeros = "0,".repeat(30 << 20);
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"baton/status","params":{{"x":[{zeros}0]}}}}"#
    );
    drop(zeros);
    stream.write_all(&framed(body.as_bytes())).unwrap();
    drop(body);
    let answer = read_answer(&mut stream);
    let grown = peak_kib(pid).saturating_sub(before);
    assert!(
        grown < (PENDING_BUDGET_MIB + 64) * 1024,
        "one request of 60 MiB grew the daemon by {grown} KiB"
    );
    assert_eq!(answer["id"], 7, "the refusal answers the request: {answer}");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("send it in parts"), "{message}");

    // A large batch of tasks, about as many as a request holds, is read.
    let client = workspace.client(false).await;
    let tasks: Vec<Value> = (0..50_000)
        .map(|n| json!({ "description": format!("task {n}"), "dependencies": [] }))
        .collect();
    let added = client
        .call("baton/addTasks", json!({ "tasks": tasks }))
        .await
        .expect("a batch of 50,000 tasks is added");
    assert_eq!(added.as_array().map(Vec::len), Some(50_000));
}

/// Opens `count` connections to the daemon and waits until it has taken them all.
fn hold_connections(workspace: &TestWorkspace, count: usize) -> Vec<UnixStream> {
    let socket = workspace.workspace().socket_path();
    (0..count)
        .map(|_| UnixStream::connect(&socket).expect("the kernel takes the connection"))
        .collect()
}

fn log_bytes(workspace: &TestWorkspace) -> u64 {
    std::fs::read_dir(workspace.root().join(".baton/logs"))
        .unwrap()
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .filter(|meta| meta.is_file())
        .map(|meta| meta.len())
        .sum()
}

#[test]
fn connections_past_the_daemon_s_limit_are_refused_saying_why_and_it_serves_again_once_they_close()
{
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "kept"]);
    let held = hold_connections(&workspace, 1_000);

    let refused = workspace.baton_within(&["status"], Duration::from_secs(20));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("at most 1000 connections"), "{said}");
    assert!(said.contains("close"), "{said}");

    drop(held);
    let mut served = None;
    baton_tests::wait_until(Duration::from_secs(10), || {
        let output = workspace.baton_within(&["status"], Duration::from_secs(20));
        let ok = output.status.success();
        served = Some(output);
        ok
    });
    let shown = String::from_utf8_lossy(&served.unwrap().stdout).into_owned();
    assert!(shown.contains("1 available"), "{shown}");
    assert!(log_bytes(&workspace) < 1 << 20, "the daemon's log grew");
}

#[test]
fn a_daemon_with_few_files_allowed_refuses_connections_before_it_runs_out() {
    let workspace = TestWorkspace::new();
    // The daemon inherits the limit of the command that starts it.
    let mut start = workspace.spawn_baton(&["add", "kept"]);
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut start, || {
            let limit = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    assert!(start.status().unwrap().success());
    let held = hold_connections(&workspace, 300);

    let refused = workspace.baton_within(&["status"], Duration::from_secs(20));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("connections"), "{said}");
    assert!(
        log_bytes(&workspace) < 1 << 20,
        "the daemon's log grew: {} bytes",
        log_bytes(&workspace)
    );

    drop(held);
    baton_tests::wait_until(Duration::from_secs(10), || {
        workspace
            .baton_within(&["status"], Duration::from_secs(20))
            .status
            .success()
    });
}

/// Whether the daemon closed `stream` within `limit`: a read ends (or fails) rather
/// than waits.
fn closed_within(stream: &mut UnixStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(err) => !matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// A slot among the daemon's connections is held only by a client: one that never
/// says `initialize`, or that stops in the middle of a header, is closed, while one
/// that made its handshake may stay idle as long as it likes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_makes_its_handshake_or_stops_inside_a_header_is_closed() {
    let workspace = TestWorkspace::new();
    let idle_client = workspace.client(false).await;
    let mut silent = raw(&workspace).await;
    let mut stopped_in_header = raw(&workspace).await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "capabilities": {} },
    });
    stopped_in_header
        .write_all(&framed(initialize.to_string().as_bytes()))
        .unwrap();
    assert_eq!(read_answer(&mut stopped_in_header)["id"], 1);
    stopped_in_header.write_all(b"Content-Len").unwrap();

    assert!(
        closed_within(&mut silent, Duration::from_secs(20)),
        "a connection that never said initialize is closed"
    );
    assert!(
        closed_within(&mut stopped_in_header, Duration::from_secs(20)),
        "a connection that stopped inside a header is closed"
    );
    let status = idle_client.call("baton/status", Value::Null).await;
    assert!(status.is_ok(), "an idle client is still served: {status:?}");
}
