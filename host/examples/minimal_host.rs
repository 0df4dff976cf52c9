//! The baseline for the start-up benchmark: the least a native messaging host can do (read one
//! frame, answer a fixed `version` frame) with std only. `cpx-connect`'s spawn-to-response time
//! is measured next to this one's in the same run (scripts/bench.sh).

use std::io::{Read, Write};

fn main() {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut length = [0u8; 4];
    while stdin.read_exact(&mut length).is_ok() {
        let mut body = vec![0u8; u32::from_ne_bytes(length) as usize];
        if stdin.read_exact(&mut body).is_err() {
            return;
        }
        let answer = br#"{"id":1,"result":{"protocol":1,"version":"0.1.0"}}"#;
        let mut frame = (answer.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(answer);
        if stdout
            .write_all(&frame)
            .and_then(|_| stdout.flush())
            .is_err()
        {
            return;
        }
    }
}
