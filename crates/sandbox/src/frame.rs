//! The framing the spawners put at the start of the helper's stdin on every platform:
//! `<decimal length>\n<payload>` (the policy; in prewarm mode, then the command message). The
//! reader takes exactly that many bytes, so whatever follows stays in the pipe for the command.

use std::io::Read;

/// Largest payload a frame may announce.
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Reads one frame from `r`, byte by byte up to the newline and then exactly the announced
/// length. `r` must be unbuffered (a `File` over the raw descriptor or handle): a buffered reader
/// would take bytes that belong to the command.
pub fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut len = 0usize;
    let mut digits = 0;
    loop {
        let mut b = [0u8; 1];
        read_exact(r, &mut b)?;
        match b[0] {
            b'\n' if digits > 0 => break,
            c @ b'0'..=b'9' if digits < 12 => {
                len = len * 10 + usize::from(c - b'0');
                digits += 1;
            }
            _ => return Err("bad length header".into()),
        }
    }
    if len > MAX_FRAME_BYTES {
        return Err("message larger than 64 MiB".into());
    }
    let mut buf = vec![0u8; len];
    read_exact(r, &mut buf)?;
    Ok(buf)
}

/// Like [`Read::read_exact`] (retries on `EINTR`), with the helper's own end-of-input message.
fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), String> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Err("unexpected end of input".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_frame_and_leaves_the_rest() {
        let mut r: &[u8] = b"5\nhellorest";
        assert_eq!(read_frame(&mut r).unwrap(), b"hello");
        assert_eq!(r, b"rest");
        let mut empty: &[u8] = b"0\n";
        assert_eq!(read_frame(&mut empty).unwrap(), b"");
    }

    #[test]
    fn refuses_bad_headers_short_input_and_oversized_frames() {
        for bad in [&b"\n"[..], b"x\n", b"1234567890123\n", b"-1\n"] {
            let mut r = bad;
            assert_eq!(read_frame(&mut r).unwrap_err(), "bad length header");
        }
        let mut short: &[u8] = b"10\nabc";
        assert_eq!(
            read_frame(&mut short).unwrap_err(),
            "unexpected end of input"
        );
        let mut none: &[u8] = b"12";
        assert_eq!(
            read_frame(&mut none).unwrap_err(),
            "unexpected end of input"
        );
        let mut big: &[u8] = b"67108865\n";
        assert_eq!(
            read_frame(&mut big).unwrap_err(),
            "message larger than 64 MiB"
        );
    }
}
