//! Remote execution of chunks (`--remote-executor`): each chunk's work becomes an action of the
//! Remote Execution API (REAPI v2), which Bazel's, Buck2's and BuildGrid's clusters run.
//!
//! Architecture invariant: a remote chunk gives the bytes a local one would. The action runs
//! llpar's own executable (uploaded once) as a chunk worker (`worker::CHILD_ARG`) on the chunk,
//! both in the action's input root, and its one output file is the chunk's result; so the
//! action's digest depends only on the chunk and the options, and the server's action cache
//! answers a chunk it has seen. Every blob read back is checked against its digest; a wrong
//! one is never used. Every call has a deadline, so no run waits forever.
use crate::cache::{executable_digest, hex};
use bazel_remote_apis::build::bazel::remote::execution::v2::{
    self as re, batch_update_blobs_request, capabilities_client::CapabilitiesClient,
    content_addressable_storage_client::ContentAddressableStorageClient,
    execution_client::ExecutionClient,
};
use bazel_remote_apis::google::bytestream::{
    byte_stream_client::ByteStreamClient, ReadRequest, WriteRequest,
};
use bazel_remote_apis::google::longrunning::operation;
use prost::Message;
use sha2::{Digest as _, Sha256};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Blobs larger than this go through ByteStream, in pieces of this size (gRPC messages are
/// limited to 4 MiB by default).
const PIECE: usize = 1 << 20;
/// How often an action is tried when the cluster fails it (a worker lost, a wrong blob).
const ATTEMPTS: usize = 3;

/// A connection to a REAPI server.
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    channel: Channel,
    instance: String,
    /// The longest an action may take, queueing included; and the deadline of every call.
    timeout: Duration,
    /// Where: for messages.
    url: String,
    /// llpar's executable as the actions run it, once uploaded.
    executable: Mutex<Option<re::Digest>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({}, instance '{}')", self.url, self.instance)
    }
}

/// Where the time of one remote chunk went, for `--stats`.
#[derive(Clone, Debug, Default)]
pub struct RemoteTimes {
    pub upload: Duration,
    /// From the server's queueing of the action to a worker taking it.
    pub queued: Duration,
    /// The chunk worker's run on the remote worker.
    pub executing: Duration,
    /// The whole round trip, upload to download.
    pub total: Duration,
    /// The server answered from its action cache.
    pub cached: bool,
}

/// What the remote executor did in a run, for `--stats`.
#[derive(Clone, Debug, Default)]
pub struct RemoteSummary {
    /// Chunks that ran remotely, and of those, answered from the server's action cache.
    pub chunks: usize,
    pub from_action_cache: usize,
    pub upload: Duration,
    pub queued: Duration,
    pub executing: Duration,
    /// Chunks that ran here after the server failed them (`--remote-fallback`), and the first
    /// reason.
    pub fell_back: usize,
    pub first_failure: Option<String>,
}

impl RemoteSummary {
    /// Counts one chunk: `outcome` is its remote times, or why it ran here.
    pub fn add(&mut self, outcome: &Result<RemoteTimes, String>) {
        match outcome {
            Ok(times) => {
                self.chunks += 1;
                self.from_action_cache += usize::from(times.cached);
                self.upload += times.upload;
                // A cached result carries the times of the run that made it, not this one's.
                if !times.cached {
                    self.queued += times.queued;
                    self.executing += times.executing;
                }
            }
            Err(reason) => {
                self.fell_back += 1;
                self.first_failure.get_or_insert_with(|| reason.clone());
            }
        }
    }
}

fn digest(bytes: &[u8]) -> re::Digest {
    re::Digest {
        hash: Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        size_bytes: bytes.len() as i64,
    }
}

fn seconds(
    since: &Option<bazel_remote_apis::google::protobuf::Timestamp>,
    until: &Option<bazel_remote_apis::google::protobuf::Timestamp>,
) -> Duration {
    match (since, until) {
        (Some(a), Some(b)) => {
            let nanos =
                (b.seconds - a.seconds) as i128 * 1_000_000_000 + (b.nanos - a.nanos) as i128;
            Duration::from_nanos(nanos.max(0) as u64)
        }
        _ => Duration::ZERO,
    }
}

impl Remote {
    /// Connects to `url` (`grpc://HOST:PORT` or `http://HOST:PORT`): one error line when the
    /// server cannot be reached within `timeout`.
    pub fn connect(url: &str, instance: &str, timeout: Duration) -> Result<Remote, String> {
        let endpoint = match url.split_once("://") {
            Some(("grpc" | "http", rest)) => format!("http://{rest}"),
            Some((scheme, _)) => {
                return Err(format!(
                    "{url}: unsupported scheme '{scheme}' (use grpc://HOST:PORT)"
                ))
            }
            None => format!("http://{url}"),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the remote client: {e}"))?;
        let channel = runtime.block_on(async {
            let endpoint = Channel::from_shared(endpoint).map_err(|e| format!("{url}: {e}"))?;
            let endpoint = endpoint.connect_timeout(timeout).timeout(timeout);
            tokio::time::timeout(timeout, endpoint.connect())
                .await
                .map_err(|_| format!("{url}: no answer within {} s", timeout.as_secs()))?
                .map_err(|e| format!("{url}: cannot connect: {}", source_chain(&e)))
        })?;
        runtime.block_on(probe(&channel, url, instance, timeout))?;
        Ok(Remote {
            runtime,
            channel,
            instance: instance.to_string(),
            timeout,
            url: url.to_string(),
            executable: Mutex::new(None),
        })
    }

    /// Runs a chunk worker with `args` on `chunk` remotely; its output file's bytes.
    pub fn run(
        &self,
        args: &[String],
        chunk: &[u8],
    ) -> Result<(Vec<u8>, RemoteTimes), RemoteError> {
        let mut last = Failure::Retry(String::new());
        for attempt in 0..ATTEMPTS {
            // After a failure, the action cache may hold what failed: ask for a fresh run.
            match self
                .runtime
                .block_on(self.attempt(args, chunk, attempt > 0))
            {
                Ok(done) => return Ok(done),
                Err(Failure::Final(e)) => return Err(RemoteError::Unavailable(self.at(e))),
                Err(Failure::Chunk(e)) => return Err(RemoteError::ChunkFailed(self.at(e))),
                Err(failure) => last = failure,
            }
        }
        let tried = |e: String| self.at(format!("{e} (tried {ATTEMPTS} times)"));
        Err(match last {
            Failure::Damaged(e) => RemoteError::Untrusted(tried(e)),
            Failure::Retry(e) | Failure::Final(e) | Failure::Chunk(e) => {
                RemoteError::Unavailable(tried(e))
            }
        })
    }

    fn at(&self, message: String) -> String {
        format!("{}: {message}", self.url)
    }

    async fn attempt(
        &self,
        args: &[String],
        chunk: &[u8],
        fresh: bool,
    ) -> Result<(Vec<u8>, RemoteTimes), Failure> {
        let start = Instant::now();
        let executable = self.executable().await.map_err(Failure::Final)?;
        let [root, command, action] = self.action(args, chunk, executable);
        self.upload(&[chunk, &root, &command, &action])
            .await
            .map_err(Failure::Retry)?;
        let upload = start.elapsed();
        let response = self.execute(digest(&action), fresh).await?;
        let result = response.result.ok_or(Failure::Retry("no result".into()))?;
        if result.exit_code != 0 {
            return Err(Failure::Chunk(self.failure(&result).await));
        }
        let file = result.output_files.iter().find(|f| f.path == "result");
        let file = file
            .and_then(|f| f.digest.clone())
            .ok_or(Failure::Retry("no result file".into()))?;
        let bytes = self.download(&file).await?;
        let metadata = result.execution_metadata.unwrap_or_default();
        let times = RemoteTimes {
            upload,
            queued: seconds(&metadata.queued_timestamp, &metadata.worker_start_timestamp),
            executing: seconds(
                &metadata.execution_start_timestamp,
                &metadata.execution_completed_timestamp,
            ),
            total: start.elapsed(),
            cached: response.cached_result,
        };
        Ok((bytes, times))
    }

    /// The action's input root (the chunk and llpar), command and action, encoded.
    fn action(&self, args: &[String], chunk: &[u8], executable: re::Digest) -> [Vec<u8>; 3] {
        let file = |name: &str, digest, is_executable| re::FileNode {
            name: name.into(),
            digest: Some(digest),
            is_executable,
            ..Default::default()
        };
        // Sorted by name, as REAPI wants a directory's files.
        let root = re::Directory {
            files: vec![
                file("chunk.bc", digest(chunk), false),
                file("llpar", executable, true),
            ],
            ..Default::default()
        }
        .encode_to_vec();
        let mut arguments = vec!["./llpar".to_string()];
        arguments.extend(args.iter().cloned());
        arguments.extend(["input=chunk.bc".to_string(), "output=result".to_string()]);
        // `output_files` too: servers of REAPI before v2.1 read only that.
        #[allow(deprecated)]
        let command = re::Command {
            arguments,
            output_files: vec!["result".into()],
            output_paths: vec!["result".into()],
            ..Default::default()
        }
        .encode_to_vec();
        let action = re::Action {
            command_digest: Some(digest(&command)),
            input_root_digest: Some(digest(&root)),
            timeout: Some(bazel_remote_apis::google::protobuf::Duration {
                seconds: self.timeout.as_secs() as i64,
                nanos: 0,
            }),
            ..Default::default()
        }
        .encode_to_vec();
        [root, command, action]
    }

    /// The digest of llpar's executable in the CAS, uploading it if the CAS lacks it. Its hash
    /// is the one the cache computed; the bytes are read only for an upload.
    async fn executable(&self) -> Result<re::Digest, String> {
        if let Some(d) = self.executable.lock().expect("not poisoned").clone() {
            return Ok(d);
        }
        let (hash, size) = executable_digest().ok_or("cannot read llpar's own executable")?;
        let d = re::Digest {
            hash: hex(hash),
            size_bytes: *size as i64,
        };
        if !self.missing(std::slice::from_ref(&d)).await?.is_empty() {
            let path = std::env::current_exe().map_err(|e| format!("llpar's executable: {e}"))?;
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if digest(&bytes) != d {
                return Err(format!("{} changed while llpar ran", path.display()));
            }
            self.put(d.clone(), &bytes).await?;
        }
        *self.executable.lock().expect("not poisoned") = Some(d.clone());
        Ok(d)
    }

    /// Puts the blobs the CAS lacks into it.
    async fn upload(&self, blobs: &[&[u8]]) -> Result<(), String> {
        let digests: Vec<re::Digest> = blobs.iter().map(|b| digest(b)).collect();
        let missing = self.missing(&digests).await?;
        for (blob, d) in blobs.iter().zip(digests) {
            if missing.contains(&d) {
                self.put(d, blob).await?;
            }
        }
        Ok(())
    }

    /// Which of `digests` the CAS lacks.
    async fn missing(&self, digests: &[re::Digest]) -> Result<Vec<re::Digest>, String> {
        let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
        let request = re::FindMissingBlobsRequest {
            instance_name: self.instance.clone(),
            blob_digests: digests.to_vec(),
            ..Default::default()
        };
        let response = self.deadline(cas.find_missing_blobs(request)).await?;
        Ok(response.into_inner().missing_blob_digests)
    }

    /// Writes one blob into the CAS: in one batch request if small, through ByteStream if not.
    async fn put(&self, d: re::Digest, blob: &[u8]) -> Result<(), String> {
        match blob.len() <= PIECE {
            true => self.put_small(d, blob).await,
            false => self.put_large(d, blob).await,
        }
    }

    async fn put_small(&self, d: re::Digest, blob: &[u8]) -> Result<(), String> {
        let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
        let request = re::BatchUpdateBlobsRequest {
            instance_name: self.instance.clone(),
            requests: vec![batch_update_blobs_request::Request {
                digest: Some(d),
                data: blob.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let response = self
            .deadline(cas.batch_update_blobs(request))
            .await?
            .into_inner();
        match response.responses.first().and_then(|r| r.status.as_ref()) {
            Some(status) if status.code != 0 => {
                Err(format!("uploading a blob: {}", status.message))
            }
            _ => Ok(()),
        }
    }

    async fn put_large(&self, d: re::Digest, blob: &[u8]) -> Result<(), String> {
        let name = format!(
            "{}uploads/{}/blobs/{}/{}",
            self.prefix(),
            upload_id(),
            d.hash,
            d.size_bytes
        );
        let pieces: Vec<WriteRequest> = blob
            .chunks(PIECE)
            .enumerate()
            .map(|(i, piece)| WriteRequest {
                resource_name: if i == 0 { name.clone() } else { String::new() },
                write_offset: (i * PIECE) as i64,
                finish_write: (i + 1) * PIECE >= blob.len(),
                data: piece.to_vec(),
            })
            .collect();
        let mut stream = ByteStreamClient::new(self.channel.clone());
        self.deadline(stream.write(tokio_stream(pieces))).await?;
        Ok(())
    }

    /// A blob from the CAS, checked against its digest.
    async fn download(&self, d: &re::Digest) -> Result<Vec<u8>, Failure> {
        let name = format!("{}blobs/{}/{}", self.prefix(), d.hash, d.size_bytes);
        let mut stream = ByteStreamClient::new(self.channel.clone());
        let request = ReadRequest {
            resource_name: name,
            read_offset: 0,
            read_limit: 0,
        };
        let reading = self.deadline(stream.read(request)).await;
        let mut pieces = reading.map_err(Failure::Retry)?.into_inner();
        let mut bytes = Vec::with_capacity(d.size_bytes.max(0) as usize);
        let until = tokio::time::Instant::now() + self.timeout;
        loop {
            let next = tokio::time::timeout_at(until, pieces.message()).await;
            let next = next.map_err(|_| Failure::Retry("reading a blob: timed out".into()))?;
            match next {
                Ok(Some(piece)) => bytes.extend_from_slice(&piece.data),
                Ok(None) => break,
                Err(e) => return Err(Failure::Retry(format!("reading a blob: {}", e.message()))),
            }
        }
        if digest(&bytes) != *d {
            return Err(Failure::Damaged(format!(
                "the blob {}/{} read back does not match its digest: rejected",
                d.hash, d.size_bytes
            )));
        }
        Ok(bytes)
    }

    /// Runs the action and waits (within the timeout) for its response.
    async fn execute(
        &self,
        action: re::Digest,
        fresh: bool,
    ) -> Result<re::ExecuteResponse, Failure> {
        let mut execution = ExecutionClient::new(self.channel.clone());
        let request = re::ExecuteRequest {
            instance_name: self.instance.clone(),
            action_digest: Some(action),
            skip_cache_lookup: fresh,
            ..Default::default()
        };
        let mut operations = self
            .deadline(execution.execute(request))
            .await
            .map_err(Failure::Retry)?
            .into_inner();
        let until = tokio::time::Instant::now() + self.timeout;
        loop {
            let next = tokio::time::timeout_at(until, operations.message()).await;
            let next = next.map_err(|_| {
                Failure::Final(format!("no result within {} s", self.timeout.as_secs()))
            })?;
            let operation = match next {
                Ok(Some(operation)) => operation,
                Ok(None) => {
                    return Err(Failure::Retry(
                        "the server ended the action's stream".into(),
                    ))
                }
                Err(e) => return Err(Failure::Retry(format!("executing: {}", e.message()))),
            };
            match operation.result {
                _ if !operation.done => continue,
                Some(operation::Result::Response(any)) => {
                    let response = re::ExecuteResponse::decode(any.value.as_slice())
                        .map_err(|e| Failure::Retry(e.to_string()))?;
                    return match response.status.as_ref().filter(|s| s.code != 0) {
                        Some(status) => Err(Failure::Retry(format!(
                            "the action failed: {}",
                            status.message
                        ))),
                        None => Ok(response),
                    };
                }
                Some(operation::Result::Error(status)) => {
                    return Err(Failure::Retry(format!(
                        "the action failed: {}",
                        status.message
                    )))
                }
                None => return Err(Failure::Retry("the action ended without a result".into())),
            }
        }
    }

    /// The error line of a chunk worker that failed remotely (its standard error).
    async fn failure(&self, result: &re::ActionResult) -> String {
        let stderr = match &result.stderr_digest {
            Some(d) if d.size_bytes > 0 => self.download(d).await.unwrap_or_default(),
            _ => result.stderr_raw.clone(),
        };
        let stderr = String::from_utf8_lossy(&stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("llpar: error: "))
            .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()));
        match line {
            Some(line) => line.trim_start_matches("llpar: error: ").to_string(),
            None => format!("the chunk worker exited with {}", result.exit_code),
        }
    }

    fn prefix(&self) -> String {
        match self.instance.is_empty() {
            true => String::new(),
            false => format!("{}/", self.instance),
        }
    }

    /// A call with the client's deadline.
    async fn deadline<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, tonic::Status>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(status)) => Err(status.message().to_string()),
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
        }
    }
}

/// Asks the server for its capabilities: any answer, even "not implemented", shows a gRPC
/// server that answers; a listener that never does (or a dead one) is an error here, once,
/// rather than a timeout in every chunk.
async fn probe(
    channel: &Channel,
    url: &str,
    instance: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut capabilities = CapabilitiesClient::new(channel.clone());
    let request = re::GetCapabilitiesRequest {
        instance_name: instance.to_string(),
    };
    let silent = format!("{url}: no answer within {} s", timeout.as_secs());
    match tokio::time::timeout(timeout, capabilities.get_capabilities(request)).await {
        Err(_) => Err(silent),
        Ok(Err(status)) => match status.code() {
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => Err(silent),
            tonic::Code::Unavailable => Err(format!("{url}: unavailable: {}", status.message())),
            _ => Ok(()),
        },
        Ok(Ok(_)) => Ok(()),
    }
}

/// Why an attempt failed.
enum Failure {
    /// The cluster lost the action, or failed a call: worth another try.
    Retry(String),
    /// A result did not match its digest: worth another try, skipping the action cache.
    Damaged(String),
    /// No answer within the deadline, or llpar's own executable unreadable: not worth another.
    Final(String),
    /// The chunk worker ran and failed (its error line).
    Chunk(String),
}

/// Why a chunk did not come back from the remote executor.
#[derive(Debug)]
pub enum RemoteError {
    /// The cluster could not run it (unreachable, silent, failing).
    Unavailable(String),
    /// Every result it gave failed its digest check: rejected, never used.
    Untrusted(String),
    /// The chunk worker failed on it: with the chunk's error line, which a local run repeats
    /// (or not, if the cluster gave the worker a damaged input).
    ChunkFailed(String),
}

impl RemoteError {
    pub fn message(&self) -> &str {
        match self {
            RemoteError::Unavailable(m)
            | RemoteError::Untrusted(m)
            | RemoteError::ChunkFailed(m) => m,
        }
    }
}

/// A unique name for one upload, as ByteStream wants.
fn upload_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{:08x}-{:04x}-4000-8000-{:012x}",
        std::process::id(),
        n & 0xffff,
        now.as_nanos() as u64 & 0xffff_ffff_ffff
    )
}

/// The pieces of a ByteStream write as a stream.
fn tokio_stream(
    pieces: Vec<WriteRequest>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = WriteRequest> {
    tonic::codegen::tokio_stream::iter(pieces)
}

/// An error with its causes, which tonic's transport errors keep apart.
fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}
