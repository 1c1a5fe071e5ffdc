//! A minimal AMQP 0-9-1 publisher that writes whatever bytes it is given into a message's
//! properties and headers: what an outside client may send, and what no well-behaved
//! library lets a test send (lapin's strings are UTF-8). Enough of the protocol to open a
//! connection and a channel in confirm mode, publish, and close.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One AMQP field-table value, as raw bytes where the protocol has strings.
pub enum Value {
    LongString(Vec<u8>),
    Int(i32),
    Table(Vec<(Vec<u8>, Value)>),
}

/// A message's basic properties; `None` leaves the property out.
#[derive(Default)]
pub struct Properties {
    pub content_type: Option<Vec<u8>>,
    pub headers: Option<Vec<(Vec<u8>, Value)>>,
    pub delivery_mode: Option<u8>,
    pub correlation_id: Option<Vec<u8>>,
    pub message_id: Option<Vec<u8>>,
    pub app_id: Option<Vec<u8>>,
}

pub struct RawPublisher {
    stream: TcpStream,
}

fn short(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn long(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn table(out: &mut Vec<u8>, entries: &[(Vec<u8>, Value)]) {
    let mut body = Vec::new();
    for (key, value) in entries {
        short(&mut body, key);
        match value {
            Value::LongString(bytes) => {
                body.push(b'S');
                long(&mut body, bytes);
            }
            Value::Int(n) => {
                body.push(b'I');
                body.extend_from_slice(&n.to_be_bytes());
            }
            Value::Table(inner) => {
                body.push(b'F');
                table(&mut body, inner);
            }
        }
    }
    long(out, &body);
}

fn method(class: u16, method: u16, arguments: &[u8]) -> Vec<u8> {
    let mut payload = class.to_be_bytes().to_vec();
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(arguments);
    payload
}

impl RawPublisher {
    /// Opens a connection to `vhost` as guest, and channel 1 in confirm mode.
    pub async fn connect(vhost: &str) -> RawPublisher {
        let stream = TcpStream::connect("127.0.0.1:5672").await.expect("broker");
        let mut publisher = RawPublisher { stream };
        publisher
            .stream
            .write_all(b"AMQP\x00\x00\x09\x01")
            .await
            .unwrap();
        publisher.expect(10, 10).await; // connection.start
        let mut start_ok = Vec::new();
        table(&mut start_ok, &[]);
        short(&mut start_ok, b"PLAIN");
        long(&mut start_ok, b"\0guest\0guest");
        short(&mut start_ok, b"en_US");
        publisher.send(1, 0, &method(10, 11, &start_ok)).await;
        let tune = publisher.expect(10, 30).await;
        let mut tune_ok = tune[..6].to_vec(); // channel-max, frame-max as offered
        tune_ok.extend_from_slice(&0u16.to_be_bytes()); // no heartbeats
        publisher.send(1, 0, &method(10, 31, &tune_ok)).await;
        let mut open = Vec::new();
        short(&mut open, vhost.as_bytes());
        short(&mut open, b"");
        open.push(0);
        publisher.send(1, 0, &method(10, 40, &open)).await;
        publisher.expect(10, 41).await;
        publisher.send(1, 1, &method(20, 10, &[0])).await;
        publisher.expect(20, 11).await;
        publisher.send(1, 1, &method(85, 10, &[0])).await; // confirm.select
        publisher.expect(85, 11).await;
        publisher
    }

    async fn send(&mut self, frame_type: u8, channel: u16, payload: &[u8]) {
        let mut frame = vec![frame_type];
        frame.extend_from_slice(&channel.to_be_bytes());
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame.push(0xce);
        self.stream.write_all(&frame).await.expect("write a frame");
    }

    /// Reads frames until a method frame of `class.method` arrives; its arguments.
    async fn expect(&mut self, class: u16, method_id: u16) -> Vec<u8> {
        loop {
            let mut header = [0u8; 7];
            self.stream.read_exact(&mut header).await.expect("a frame");
            let size = u32::from_be_bytes(header[3..7].try_into().unwrap()) as usize;
            let mut payload = vec![0u8; size + 1];
            self.stream
                .read_exact(&mut payload)
                .await
                .expect("a frame body");
            payload.pop();
            if header[0] != 1 {
                continue;
            }
            let got = (
                u16::from_be_bytes([payload[0], payload[1]]),
                u16::from_be_bytes([payload[2], payload[3]]),
            );
            assert_ne!(
                got,
                (10, 50),
                "the broker closed the connection: {payload:?}"
            );
            assert_ne!(got, (20, 40), "the broker closed the channel: {payload:?}");
            if got == (class, method_id) {
                return payload[4..].to_vec();
            }
        }
    }

    /// Publishes one message and waits for the broker's confirm.
    pub async fn publish(
        &mut self,
        exchange: &str,
        routing_key: &[u8],
        props: &Properties,
        body: &[u8],
    ) {
        let mut publish = 0u16.to_be_bytes().to_vec();
        short(&mut publish, exchange.as_bytes());
        short(&mut publish, routing_key);
        publish.push(0);
        self.send(1, 1, &method(60, 40, &publish)).await;

        let mut flags = 0u16;
        let mut list = Vec::new();
        if let Some(v) = &props.content_type {
            flags |= 0x8000;
            short(&mut list, v);
        }
        if let Some(h) = &props.headers {
            flags |= 0x2000;
            table(&mut list, h);
        }
        if let Some(mode) = props.delivery_mode {
            flags |= 0x1000;
            list.push(mode);
        }
        if let Some(v) = &props.correlation_id {
            flags |= 0x0400;
            short(&mut list, v);
        }
        if let Some(v) = &props.message_id {
            flags |= 0x0080;
            short(&mut list, v);
        }
        if let Some(v) = &props.app_id {
            flags |= 0x0008;
            short(&mut list, v);
        }
        let mut header = 60u16.to_be_bytes().to_vec();
        header.extend_from_slice(&0u16.to_be_bytes());
        header.extend_from_slice(&(body.len() as u64).to_be_bytes());
        header.extend_from_slice(&flags.to_be_bytes());
        header.extend_from_slice(&list);
        self.send(2, 1, &header).await;
        // A zero-length body has no body frame.
        for chunk in body.chunks(100_000) {
            self.send(3, 1, chunk).await;
        }
        self.expect(60, 80).await; // basic.ack
    }

    pub async fn close(mut self) {
        let mut close = 200u16.to_be_bytes().to_vec();
        short(&mut close, b"bye");
        close.extend_from_slice(&0u32.to_be_bytes());
        self.send(1, 0, &method(10, 50, &close)).await;
        self.expect(10, 51).await;
    }
}
