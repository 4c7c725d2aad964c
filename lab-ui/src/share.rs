//! Share links: the program (deflated, base64url) and the demo, lab and mode in the URL hash.

use emulator_core::ExecMode;

/// What a share link carries.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Shared {
    /// The program's source.
    pub source: Option<String>,
    /// A lecture demo's id.
    pub demo: Option<String>,
    /// The step of the demo.
    pub step: Option<usize>,
    /// A lab's id.
    pub lab: Option<String>,
    /// The execution mode.
    pub mode: Option<ExecMode>,
}

impl Shared {
    /// The hash part of a link (without the `#`).
    pub fn to_hash(&self) -> String {
        let mut parts = Vec::new();
        if let Some(demo) = &self.demo {
            parts.push(format!("demo={}", escape(demo)));
        }
        if let Some(step) = self.step {
            parts.push(format!("step={step}"));
        }
        if let Some(lab) = &self.lab {
            parts.push(format!("lab={}", escape(lab)));
        }
        if let Some(mode) = self.mode {
            parts.push(format!("mode={}", mode.name()));
        }
        if let Some(src) = &self.source {
            let packed = miniz_oxide::deflate::compress_to_vec(src.as_bytes(), 9);
            parts.push(format!("p={}", base64url_encode(&packed)));
        }
        parts.join("&")
    }

    /// Reads a hash (with or without the `#`); says which part is malformed.
    pub fn from_hash(hash: &str) -> Result<Shared, String> {
        let mut out = Shared::default();
        let hash = hash.strip_prefix('#').unwrap_or(hash);
        for part in hash.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("share link: `{part}` is not key=value"))?;
            match key {
                "demo" => out.demo = Some(unescape(value)),
                "lab" => out.lab = Some(unescape(value)),
                "step" => {
                    out.step = Some(
                        value
                            .parse()
                            .map_err(|_| format!("share link: step `{value}` is not a number"))?,
                    )
                }
                "mode" => {
                    out.mode = Some(
                        value
                            .parse::<ExecMode>()
                            .map_err(|e| format!("share link: {e}"))?,
                    )
                }
                "p" => {
                    let packed = base64url_decode(value)
                        .ok_or_else(|| "share link: the program is not base64url".to_string())?;
                    let bytes =
                        miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, 1 << 20)
                            .map_err(|e| {
                                format!("share link: the program does not inflate ({e:?})")
                            })?;
                    out.source = Some(String::from_utf8(bytes).map_err(|e| {
                        format!(
                            "share link: the program is not UTF-8 at byte {}",
                            e.utf8_error().valid_up_to()
                        )
                    })?);
                }
                _ => {} // unknown keys are ignored so that newer links still open
            }
        }
        Ok(out)
    }
}

fn escape(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect()
}

fn unescape(s: &str) -> String {
    escape(s)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648, section 5).
pub fn base64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

/// Decodes base64url without padding; `None` on a character outside the alphabet.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            let text = base64url_encode(&data);
            assert!(!text.contains(['+', '/', '=']));
            assert_eq!(base64url_decode(&text), Some(data));
        }
        assert_eq!(base64url_encode(b"foob"), "Zm9vYg");
        assert_eq!(base64url_decode("Zm9v!"), None);
    }

    #[test]
    fn a_link_round_trips() {
        let s = Shared {
            source: Some("mov eax, 1 ; héllo\nhlt\n".repeat(20)),
            demo: Some("page-walk".into()),
            step: Some(3),
            lab: None,
            mode: Some(ExecMode::HW_ASSIST),
        };
        let hash = s.to_hash();
        assert!(hash.len() < 200, "compressed: {hash}");
        assert_eq!(Shared::from_hash(&format!("#{hash}")), Ok(s));
    }

    #[test]
    fn bad_links_say_what_is_wrong() {
        let e = Shared::from_hash("#mode=turbo").unwrap_err();
        assert!(e.contains("turbo"), "{e}");
        let e = Shared::from_hash("#p=AAAA").unwrap_err();
        assert!(e.contains("inflate"), "{e}");
        let e = Shared::from_hash("#demo").unwrap_err();
        assert!(e.contains("key=value"), "{e}");
    }
}
