//! Capability handles for daemon-side objects (symbol indexes, sandbox sessions, storage roots): 128 random bits from
//! the OS-seeded CSPRNG, so a client reaches only the objects it created or was handed a handle to.

/// A fresh handle: 32 lowercase hex digits.
pub fn new_handle() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_are_distinct_and_hex() {
        let a = super::new_handle();
        let b = super::new_handle();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
