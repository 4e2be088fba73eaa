//! The floor of a unary call to a running daemon: a bare Rust HTTP/2 client (the `h2` crate that tonic's
//! server runs on) sending `ku0.tokenizer.v1.Tokenizer/Count` of a 100-byte text over the Unix socket,
//! with no gRPC library on the client side. What any TypeScript client of the daemon is compared with
//! (docs/sidecar.md "Client choice"). Unix only.
//!
//! `cargo run --release -p ku0-sidecar --example h2_floor -- <socket> [calls]` prints the p50/p99 of one
//! call at a time and the throughput of 16 calls in flight.

#[cfg(unix)]
mod floor {
    use std::time::{Duration, Instant};

    use bytes::{BufMut, Bytes, BytesMut};
    use h2::client::{self, SendRequest};
    use ku0_sidecar::pb::tokenizer::{CountReply, CountRequest};
    use prost::Message;
    use tokio::net::UnixStream;

    const TEXT: &str = "const agent = createAgent({ model: 'gpt-4o', tools: [read, write, exec] }); return agent.run(task); ";
    const IN_FLIGHT: usize = 16;

    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn frame() -> Bytes {
        let msg = CountRequest {
            text: TEXT.into(),
            model: Some("gpt-4o".into()),
        };
        let mut buf = BytesMut::with_capacity(5 + msg.encoded_len());
        buf.put_u8(0);
        buf.put_u32(u32::try_from(msg.encoded_len()).unwrap_or(u32::MAX));
        msg.encode(&mut buf).map_err(|e| e.to_string()).ok();
        buf.freeze()
    }

    async fn count(h2: &SendRequest<Bytes>, body: Bytes) -> Result<u32, Error> {
        let req = http::Request::builder()
            .method("POST")
            .uri("http://localhost/ku0.tokenizer.v1.Tokenizer/Count")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())?;
        let mut h2 = h2.clone().ready().await?;
        let (resp, mut send) = h2.send_request(req, false)?;
        send.send_data(body, true)?;
        let mut body = resp.await?.into_body();
        let mut data = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await?;
        let status = trailers.as_ref().and_then(|t| t.get("grpc-status"));
        if status.map(|s| s.as_bytes()) != Some(b"0") {
            return Err(format!("grpc-status {status:?}").into());
        }
        if data.len() < 5 {
            return Err("no reply message".into());
        }
        Ok(CountReply::decode(&data[5..])?.tokens)
    }

    fn pct(sorted: &[Duration], p: f64) -> f64 {
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
    }

    pub async fn run(socket: &str, calls: usize) -> Result<(), Error> {
        let io = UnixStream::connect(socket).await?;
        let (h2, conn) = client::handshake(io).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("h2 connection: {e}");
            }
        });
        let body = frame();
        for _ in 0..200 {
            count(&h2, body.clone()).await?;
        }
        let mut times = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            count(&h2, body.clone()).await?;
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "h2 floor, one call at a time: {calls} calls, p50 {:.1} us, p99 {:.1} us",
            pct(&times, 0.5),
            pct(&times, 0.99)
        );
        let rounds = calls / IN_FLIGHT;
        let t = Instant::now();
        for _ in 0..rounds {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..IN_FLIGHT {
                let (h2, body) = (h2.clone(), body.clone());
                set.spawn(async move { count(&h2, body).await });
            }
            while let Some(r) = set.join_next().await {
                r??;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "h2 floor, {IN_FLIGHT} in flight: {} calls in {:.3} s = {:.0} calls/s",
            rounds * IN_FLIGHT,
            secs,
            (rounds * IN_FLIGHT) as f64 / secs
        );
        Ok(())
    }
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(socket) = args.next() else {
        eprintln!("usage: h2_floor <socket> [calls]");
        return std::process::ExitCode::from(2);
    };
    let calls = args.next().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(floor::run(&socket, calls)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("h2_floor: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("h2_floor needs a Unix socket");
}
