//! Tests of the emulator over real HTTP, as a function's runtime client and its extensions
//! speak it: helpers here, the Runtime API and the Extensions API in their own files.

mod extensions_api;
mod runtime_api;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use super::extensions_api::EXTENSION_BASE_PATH;
use super::ids::{civil_date, validate_request_id};
use super::runtime_api::Route;
use super::state::InvocationState;
use super::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Generous bound for anything that should happen promptly on loopback.
const PROMPTLY: Duration = Duration::from_secs(10);

/// A minimal HTTP/1.1 client on one keep-alive connection, speaking to the emulator as a
/// Lambda runtime would.
struct RuntimeClient {
    connection: BufReader<TcpStream>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn error_type(&self) -> String {
        self.json()["errorType"]
            .as_str()
            .expect("an errorType")
            .to_owned()
    }
}

impl RuntimeClient {
    async fn connect(api: &RuntimeApi) -> Self {
        let stream = TcpStream::connect(api.addr()).await.expect("connect");
        Self {
            connection: BufReader::new(stream),
        }
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, &[], b"").await
    }

    async fn post(&mut self, path: &str, body: &[u8]) -> Reply {
        self.request("POST", path, &[], body).await
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: aws-lambda-rust/test\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body);
        self.send_raw(&raw).await
    }

    async fn send_raw(&mut self, raw: &[u8]) -> Reply {
        let stream = self.connection.get_mut();
        stream.write_all(raw).await.expect("write request");
        stream.flush().await.expect("flush request");
        tokio::time::timeout(PROMPTLY, self.read_reply())
            .await
            .expect("a reply in time")
    }

    async fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.connection
            .read_line(&mut line)
            .await
            .expect("read line");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    async fn read_reply(&mut self) -> Reply {
        let status_line = self.read_line().await;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.read_line().await;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("a header line");
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map_or(0, |(_, value)| value.parse().expect("a content length"));
        let mut body = vec![0; length];
        self.connection
            .read_exact(&mut body)
            .await
            .expect("read body");
        Reply {
            status,
            headers,
            body,
        }
    }
}

fn next_path() -> String {
    format!("{BASE_PATH}/invocation/next")
}

fn response_path(request_id: &str) -> String {
    format!("{BASE_PATH}/invocation/{request_id}/response")
}

fn error_path(request_id: &str) -> String {
    format!("{BASE_PATH}/invocation/{request_id}/error")
}

async fn start(function: FunctionConfig) -> RuntimeApi {
    RuntimeApi::start(function).await.expect("start emulator")
}

fn spawn_invoke(api: &RuntimeApi, invocation: Invocation) -> JoinHandle<InvocationOutcome> {
    let api = api.clone();
    tokio::spawn(async move { api.invoke(invocation).await })
}

async fn outcome_of(invoking: JoinHandle<InvocationOutcome>) -> InvocationOutcome {
    tokio::time::timeout(PROMPTLY, invoking)
        .await
        .expect("invoke returned in time")
        .expect("invoke task")
}

fn queued_invocations(api: &RuntimeApi) -> usize {
    api.shared
        .registry()
        .invocations
        .values()
        .filter(|state| matches!(state, InvocationState::Queued { .. }))
        .count()
}

async fn wait_until_queued(api: &RuntimeApi, count: usize) {
    tokio::time::timeout(PROMPTLY, async {
        while queued_invocations(api) < count {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("invocations queued in time");
}

fn now_epoch_millis() -> i128 {
    i128::from(epoch_millis_after(Duration::ZERO))
}
