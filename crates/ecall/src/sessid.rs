//! Session ids, drawn without a random number generator.
//!
//! Wire draws four random alphanumeric characters per call. The machine reads no RNG, so it derives
//! them: a 64-bit state starts at `seed ^ fnv1a64(user "\0" client)` and moves by the splitmix64
//! increment per call; each id is four characters of `[0-9A-Za-z]` from the splitmix64 output.
//! Ids look random and differ between devices and between calls of one device; with the same
//! seed, user and client the sequence repeats, so an application passes a random seed.

/// The characters of a session id, as in Wire's `a1B2`.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The length of a session id drawn here.
pub(crate) const SESSID_LEN: usize = 4;

/// A deterministic source of session ids (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct SessidSource {
    state: u64,
}

impl SessidSource {
    pub(crate) fn new(seed: u64, user: &str, client: &str) -> Self {
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for byte in user.bytes().chain([0]).chain(client.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        SessidSource { state: seed ^ hash }
    }

    /// The next id, never equal to `avoid` (the previous call's id with the same peer, so a late
    /// message of the old call is never taken for the new one).
    pub(crate) fn next(&mut self, avoid: Option<&str>) -> String {
        loop {
            let id = self.draw();
            if avoid != Some(id.as_str()) {
                return id;
            }
        }
    }

    fn draw(&mut self) -> String {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (0..SESSID_LEN)
            .map(|_| {
                let c = ALPHABET[(z % 62) as usize] as char;
                z /= 62;
                c
            })
            .collect()
    }
}
