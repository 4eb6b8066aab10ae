//! The custom handler as the Functions host runs it: a process of its own, started with the
//! host's environment in the handler's working directory, and killed when an invocation
//! outlives `functionTimeout`.
//!
//! Followed: Azure/azure-functions-host
//!
//! - `src/WebJobs.Script/Workers/Http/HttpWorkerProcess.cs` (`CreateWorkerProcess`): the
//!   environment `FUNCTIONS_CUSTOMHANDLER_PORT`, `FUNCTIONS_CUSTOMHANDLER_WORKER_ID`, their
//!   older `FUNCTIONS_HTTPWORKER_*` twins and `FUNCTIONS_APP_ROOT_PATH` (the app root), in the
//!   working directory of `Configuration/HttpWorkerOptionsSetup.cs` (`host.json`'s
//!   `customHandler.description.workingDirectory`, relative to the app root, which it
//!   defaults to). The port is chosen once (`WorkerUtilities.GetUnusedTcpPort`) and kept
//!   across restarts.
//! - `DefaultHttpWorkerService.IsWorkerReady`: the worker is ready once any HTTP answer comes
//!   back on its port; the host waits `InitializationTimeout` (30 s) for it.
//! - `src/WebJobs.Script.WebHost/WebScriptHostExceptionHandler.cs` (`OnTimeoutExceptionAsync`)
//!   → `Http/HttpFunctionInvocationDispatcher.cs` (`RestartWorkerWithInvocationIdAsync`,
//!   `DisposeAndRestartWorkerChannel`) → `ProcessManagement/WorkerProcess.cs` (`Dispose`:
//!   `Process.Kill()`): a timed-out invocation takes the whole worker down with SIGKILL — no
//!   SIGTERM, no grace — and a new worker is started.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use otel_faas_runtime::__private::local::HostJson;

use crate::process::{Output, forward};

/// How long the host waits for a worker to listen (`HttpWorkerOptions.InitializationTimeout`).
const INITIALIZATION_TIMEOUT: Duration = Duration::from_secs(30);

/// A custom handler process, started and restarted as the host does.
#[derive(Debug)]
pub struct WorkerProcess {
    program: PathBuf,
    args: Vec<OsString>,
    root: PathBuf,
    host_json: HostJson,
    env: Vec<(String, String)>,
    output: Output,
    port: u16,
    child: Child,
    captured: Arc<Mutex<Vec<String>>>,
    starts: u32,
}

impl WorkerProcess {
    /// Starts `program` with `args` as the custom handler of the app in `root` (its
    /// `host.json` read there), with `env` over the host's environment, and waits until it
    /// listens.
    pub async fn start(
        program: &Path,
        args: Vec<OsString>,
        root: &Path,
        env: &[(String, String)],
        output: Output,
    ) -> std::io::Result<WorkerProcess> {
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").await?;
            probe.local_addr()?.port()
        };
        let captured = Arc::new(Mutex::new(Vec::new()));
        let host_json = HostJson::load_from(root);
        let child = spawn(
            program, &args, root, &host_json, env, port, 1, &output, &captured,
        )?;
        let mut worker = WorkerProcess {
            program: program.to_owned(),
            args,
            root: root.to_owned(),
            host_json,
            env: env.to_vec(),
            output,
            port,
            child,
            captured,
            starts: 1,
        };
        worker.wait_ready().await?;
        Ok(worker)
    }

    /// Where the worker listens.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// How long the host lets an invocation run: `host.json`'s `functionTimeout`, else the
    /// plan's default (from this process's environment and `env`).
    pub fn function_timeout(&self) -> Option<Duration> {
        self.host_json.function_timeout(|key| {
            self.env
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(key).ok())
        })
    }

    /// What the app's `host.json` says.
    pub fn host_json(&self) -> &HostJson {
        &self.host_json
    }

    /// The process id of the current worker.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// How many workers were started (1, plus one per restart).
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The lines the workers wrote so far, with [`Output::Captured`].
    pub fn output(&self) -> Vec<String> {
        self.captured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// An invocation outlived `functionTimeout`: kills the worker with SIGKILL, as
    /// `Process.Kill()` does, and starts a new one on the same port. Returns how the killed
    /// one exited.
    pub async fn kill_and_restart(&mut self) -> std::io::Result<ExitStatus> {
        self.child.start_kill()?;
        let status = self.child.wait().await?;
        self.starts += 1;
        self.child = spawn(
            &self.program,
            &self.args,
            &self.root,
            &self.host_json,
            &self.env,
            self.port,
            self.starts,
            &self.output,
            &self.captured,
        )?;
        self.wait_ready().await?;
        Ok(status)
    }

    /// Stops the worker as the host does when it shuts down: SIGTERM, then SIGKILL after
    /// `grace`.
    pub async fn terminate(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        #[cfg(unix)]
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: `kill` takes plain integers; the pid is our own unreaped child's.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            if let Ok(status) = tokio::time::timeout(grace, self.child.wait()).await {
                return status;
            }
        }
        self.child.kill().await?;
        self.child.wait().await
    }

    /// Waits until the worker accepts connections on its port.
    async fn wait_ready(&mut self) -> std::io::Result<()> {
        let started = Instant::now();
        loop {
            if TcpStream::connect(self.addr()).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "the custom handler exited before it listened on {} ({status})",
                    self.port
                )));
            }
            if started.elapsed() > INITIALIZATION_TIMEOUT {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the custom handler did not listen on {} within 30 s",
                        self.port
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    program: &Path,
    args: &[OsString],
    root: &Path,
    host_json: &HostJson,
    env: &[(String, String)],
    port: u16,
    start: u32,
    output: &Output,
    captured: &Arc<Mutex<Vec<String>>>,
) -> std::io::Result<Child> {
    let worker_id = format!("7c1f0a2e-5d3b-4e8a-9f60-{start:012x}");
    let port = port.to_string();
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(host_json.working_directory(root))
        .env("FUNCTIONS_HTTPWORKER_PORT", &port)
        .env("FUNCTIONS_HTTPWORKER_ID", &worker_id)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", &port)
        .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", &worker_id)
        .env("FUNCTIONS_APP_ROOT_PATH", root)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(forward(stdout, output.clone(), captured.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(forward(stderr, output.clone(), captured.clone()));
    }
    Ok(child)
}
