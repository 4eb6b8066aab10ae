//! The function as a real process: started with the environment Lambda gives a runtime,
//! pointed at the emulated Runtime API, and stopped the way Lambda stops it (SIGTERM, then
//! SIGKILL after a grace period).

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use crate::emulator::RuntimeApi;

/// Where the function process's standard output and error go.
#[derive(Clone, Debug)]
pub enum Output {
    /// To this process's standard error, each line after a prefix.
    Prefixed(String),
    /// Into memory, for a test to read with [`FunctionProcess::output`].
    Captured,
}

/// A running function process.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Child,
    captured: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    /// Starts `program` with `args`, the function environment of `api` and `env` (which wins),
    /// as Lambda starts a function's `bootstrap`.
    pub fn spawn(
        program: &Path,
        args: impl IntoIterator<Item = OsString>,
        api: &RuntimeApi,
        env: &[(String, String)],
        output: Output,
    ) -> std::io::Result<FunctionProcess> {
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(api.function_env())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let captured = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward(stdout, output.clone(), captured.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward(stderr, output, captured.clone()));
        }
        Ok(FunctionProcess { child, captured })
    }

    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The lines the process wrote so far, with [`Output::Captured`].
    pub fn output(&self) -> Vec<String> {
        self.captured
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the process has exited, and how.
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the process as Lambda does at shutdown: SIGTERM, then SIGKILL once `grace` has
    /// passed. Returns how it exited.
    pub async fn terminate(&mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        #[cfg(unix)]
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: `kill` takes plain integers and has no memory-safety preconditions; the
            // pid is our own child's, which has not been reaped (we hold the `Child`).
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
}

pub(crate) async fn forward(
    stream: impl AsyncRead + Unpin,
    output: Output,
    captured: Arc<Mutex<Vec<String>>>,
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match &output {
            Output::Prefixed(prefix) => eprintln!("{prefix}{line}"),
            Output::Captured => captured
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line),
        }
    }
}
