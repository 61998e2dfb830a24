//! permessage-deflate (RFC 7692): messages compressed with DEFLATE.
//!
//! A compressed message's first frame carries RSV1; its payload is raw
//! DEFLATE ending in a sync flush whose empty-block tail `00 00 ff ff` is
//! left off the wire (§7.2.1) and put back before inflating (§7.2.2).
//! Control frames and messages sent piece by piece are never compressed.
//! Each direction either keeps its LZ77 window from message to message
//! ("context takeover") or starts every message afresh, and each end may
//! narrow the other's window (§7.1). `PerMessageDeflate` negotiates that in
//! the opening handshake (a `Negotiator`); `Codec` is what the connection
//! then uses (an `Extension`). zlib-rs, in pure Rust, does the compressing.
//!
//! Inflating is bounded: a message never inflates past the limit the
//! receiver gives, so a small bomb of zeros fails with 1009 before its
//! memory is spent. Data that does not inflate fails with 1007, as ws does:
//! like text that is not UTF-8, it is payload inconsistent with what the
//! message says it is.

use std::collections::VecDeque;

use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

use crate::close::code;
use crate::error::ProtocolError;
use crate::extension::{Extension, Negotiator};
use crate::handshake::ExtensionOffer;

/// The extension's token.
pub const NAME: &str = "permessage-deflate";

/// What a sync flush ends with, and the wire leaves off (§7.2.1).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// The largest window, and the one an inflater always uses (it decodes
/// whatever smaller window the peer compressed with).
const MAX_WINDOW_BITS: u8 = 15;

/// Smallest window zlib compresses with; 8 is asked for but used as 9, as
/// zlib does (zlib-rs does not take 8 for raw DEFLATE).
const MIN_DEFLATE_BITS: u8 = 9;

/// What an end asks of permessage-deflate. The defaults are ws's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateOptions {
    /// The server starts every message afresh: a client asks for it, a
    /// server imposes it on itself.
    pub server_no_context_takeover: bool,
    /// The client starts every message afresh: a client offers it, a server
    /// asks for it.
    pub client_no_context_takeover: bool,
    /// The largest window (8–15, as a power of two) the server's compressor
    /// may use: a client asks for it, a server limits itself to it. `None`:
    /// no limit asked.
    pub server_max_window_bits: Option<u8>,
    /// The same for the client's compressor: a client limits itself to it
    /// (`None` offers the parameter without a value, saying the client can
    /// take a limit), a server asks for it.
    pub client_max_window_bits: Option<u8>,
    /// Messages shorter than this many bytes are sent uncompressed (ws: 1024).
    pub threshold: usize,
    /// zlib's compression level, 0–9.
    pub level: u8,
}

impl Default for DeflateOptions {
    fn default() -> Self {
        DeflateOptions {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            client_max_window_bits: None,
            threshold: 1024,
            level: 6,
        }
    }
}

/// How a compressor that keeps no context from message to message works:
/// two with the same settings turn the same message into the same bytes, so
/// a message compressed once may go out as is on every connection whose
/// compressor is alike (a server's publish, `publish.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fresh {
    level: i32,
    bits: u8,
    threshold: usize,
}

impl Fresh {
    /// How a server with these options compresses for a client that asked
    /// no narrower window, where it starts every message afresh.
    pub fn server(o: &DeflateOptions) -> Fresh {
        Fresh {
            level: i32::from(o.level.min(9)),
            bits: send_bits(o.server_max_window_bits),
            threshold: o.threshold,
        }
    }

    /// A compressor that works so.
    pub(crate) fn codec(self) -> Codec {
        Codec {
            level: self.level,
            threshold: self.threshold,
            send_bits: self.bits,
            send_reset: true,
            receive_reset: true,
            deflater: None,
            inflater: None,
            sent: None,
            received: None,
            stream_ended: false,
        }
    }
}

/// The window a compressor uses for a limit of `bits` (none: the largest).
fn send_bits(bits: Option<u8>) -> u8 {
    bits.unwrap_or(MAX_WINDOW_BITS).max(MIN_DEFLATE_BITS)
}

/// permessage-deflate's negotiator: a client offers it, a server answers
/// the first offer it can accept (§5, §7.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// What this end asks for.
    pub options: DeflateOptions,
}

/// The parameters of one offer or answer, each at most once.
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// Absent, given without a value (`Some(None)`), or with one.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Params {
    fn parse(element: &ExtensionOffer) -> Result<Params, String> {
        let mut p = Params::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &element.params {
            if seen.contains(&name.as_str()) {
                return Err(format!("{name} given twice"));
            }
            seen.push(name);
            match name.as_str() {
                "server_no_context_takeover" | "client_no_context_takeover" => {
                    if value.is_some() {
                        return Err(format!("{name} takes no value"));
                    }
                    if name.starts_with("server") {
                        p.server_no_context_takeover = true;
                    } else {
                        p.client_no_context_takeover = true;
                    }
                }
                "server_max_window_bits" => p.server_max_window_bits = Some(window_bits(value)?),
                "client_max_window_bits" => p.client_max_window_bits = Some(window_bits(value)?),
                other => return Err(format!("unknown parameter {other}")),
            }
        }
        Ok(p)
    }
}

/// A window size parameter's value: a decimal 8–15 without leading zeros
/// (§7.1.2), or none.
fn window_bits(value: &Option<String>) -> Result<Option<u8>, String> {
    let Some(v) = value else {
        return Ok(None);
    };
    let bits = (!v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse::<u8>().ok())
        .flatten()
        .filter(|b| (8..=MAX_WINDOW_BITS).contains(b));
    bits.map(Some)
        .ok_or_else(|| format!("window size {v:?} is not 8-15"))
}

fn element(params: Vec<(&str, Option<u8>)>) -> ExtensionOffer {
    ExtensionOffer {
        name: NAME.into(),
        params: (params.into_iter())
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_string())))
            .collect(),
    }
}

/// The smaller of two limits, where `None` is no limit.
fn narrower(a: Option<u8>, b: Option<u8>) -> Option<u8> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Negotiator for PerMessageDeflate {
    fn name(&self) -> &str {
        NAME
    }

    fn offers(&self) -> Vec<ExtensionOffer> {
        let o = &self.options;
        let mut params = Vec::new();
        if o.server_no_context_takeover {
            params.push(("server_no_context_takeover", None));
        }
        if o.client_no_context_takeover {
            params.push(("client_no_context_takeover", None));
        }
        if let Some(bits) = o.server_max_window_bits {
            params.push(("server_max_window_bits", Some(bits)));
        }
        params.push(("client_max_window_bits", o.client_max_window_bits));
        vec![element(params)]
    }

    fn accept(&self, answer: &ExtensionOffer) -> Result<Box<dyn Extension>, String> {
        let o = &self.options;
        let p = Params::parse(answer)?;
        // The server's window needs nothing of this end: inflating always
        // uses the largest. It must only be a valid answer.
        match p.server_max_window_bits {
            Some(None) => return Err("server_max_window_bits without a value".into()),
            Some(Some(b)) if o.server_max_window_bits.is_some_and(|asked| b > asked) => {
                return Err(format!("server_max_window_bits={b} is more than asked"))
            }
            _ => {}
        }
        let client_bits = match p.client_max_window_bits {
            Some(None) => return Err("client_max_window_bits without a value".into()),
            Some(Some(b)) if o.client_max_window_bits.is_some_and(|offered| b > offered) => {
                return Err(format!("client_max_window_bits={b} is more than offered"))
            }
            bits => bits.flatten(),
        };
        Ok(Box::new(Codec::new(
            o,
            narrower(client_bits, o.client_max_window_bits),
            p.client_no_context_takeover || o.client_no_context_takeover,
            p.server_no_context_takeover,
        )))
    }

    fn answer(&self, offers: &[&ExtensionOffer]) -> Option<(ExtensionOffer, Box<dyn Extension>)> {
        let o = &self.options;
        offers.iter().find_map(|offer| {
            let p = Params::parse(offer).ok()?;
            // In an offer, only the client's window may come without a value.
            let asked_server_bits = match p.server_max_window_bits {
                Some(None) => return None,
                bits => bits.flatten(),
            };
            let server_reset = p.server_no_context_takeover || o.server_no_context_takeover;
            let client_reset = p.client_no_context_takeover || o.client_no_context_takeover;
            let server_bits = narrower(asked_server_bits, o.server_max_window_bits);
            // A limit on the client's window only where it said it takes one.
            let client_bits = match p.client_max_window_bits {
                Some(offered) => narrower(offered, o.client_max_window_bits),
                None => None,
            };
            let mut params = Vec::new();
            if server_reset {
                params.push(("server_no_context_takeover", None));
            }
            if client_reset {
                params.push(("client_no_context_takeover", None));
            }
            if let Some(bits) = server_bits {
                params.push(("server_max_window_bits", Some(bits)));
            }
            if let Some(bits) = client_bits {
                params.push(("client_max_window_bits", Some(bits)));
            }
            let codec = Codec::new(o, server_bits, server_reset, client_reset);
            Some((element(params), Box::new(codec) as Box<dyn Extension>))
        })
    }
}

/// The last bytes a direction's LZ77 window may refer back to. Kept so that
/// a quiet connection can drop its zlib state (some 300 KiB to compress, 40
/// to inflate) and make it again with them as its dictionary: what context
/// takeover needs across a pause is these at most 32 KiB, not the state.
struct History {
    bytes: VecDeque<u8>,
    limit: usize,
}

impl History {
    fn new(window_bits: u8) -> History {
        History {
            bytes: VecDeque::new(),
            limit: 1 << window_bits,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let data = &data[data.len().saturating_sub(self.limit)..];
        let excess = (self.bytes.len() + data.len()).saturating_sub(self.limit);
        self.bytes.drain(..excess);
        self.bytes.extend(data);
    }

    fn dictionary(&mut self) -> &[u8] {
        self.bytes.make_contiguous()
    }
}

/// Memory a zlib state is counted as holding when deciding to trim.
const DEFLATE_STATE: usize = 256 * 1024;
const INFLATE_STATE: usize = 40 * 1024;

/// What compresses this end's messages and inflates the peer's, as agreed.
/// The zlib states are made on first use and dropped when the connection
/// is quiet; where context is taken over, each direction's history is kept
/// to make them again as they were.
pub struct Codec {
    level: i32,
    threshold: usize,
    /// The window this end compresses with.
    send_bits: u8,
    /// This end starts every message it sends afresh.
    send_reset: bool,
    /// The peer starts every message afresh, so this end's inflater may too.
    receive_reset: bool,
    deflater: Option<Deflate>,
    inflater: Option<Inflate>,
    /// What was sent and received, where the window is kept across messages.
    sent: Option<History>,
    received: Option<History>,
    /// The message being inflated ended its DEFLATE stream with a final block.
    stream_ended: bool,
}

impl Codec {
    fn new(
        o: &DeflateOptions,
        send_bits: Option<u8>,
        send_reset: bool,
        receive_reset: bool,
    ) -> Codec {
        let bits = self::send_bits(send_bits);
        Codec {
            level: i32::from(o.level.min(9)),
            threshold: o.threshold,
            send_bits: bits,
            send_reset,
            receive_reset,
            deflater: None,
            inflater: None,
            sent: (!send_reset).then(|| History::new(bits)),
            received: (!receive_reset).then(|| History::new(MAX_WINDOW_BITS)),
            stream_ended: false,
        }
    }

    /// Inflates `input` into `out`, which may grow by at most `limit` more.
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: &mut usize,
    ) -> Result<(), ProtocolError> {
        if self.stream_ended {
            return Ok(());
        }
        let inflater = self.inflater.get_or_insert_with(|| {
            let mut inflater = Inflate::new(false, MAX_WINDOW_BITS);
            if let Some(history) = self.received.as_mut().filter(|h| !h.bytes.is_empty()) {
                // A raw stream takes a dictionary before its first byte.
                let _ = inflater.set_dictionary(history.dictionary());
            }
            inflater
        });
        let mut rest = input;
        loop {
            // Room for what the input may well inflate to, and one byte past
            // the limit to see it crossed, before that memory is spent.
            let room = (rest.len().saturating_mul(4)).clamp(4096, 1 << 20);
            let room = room.min(limit.saturating_add(1));
            out.reserve(room);
            let spare = &mut out.spare_capacity_mut()[..room];
            let (taken, given) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress_uninit(rest, spare, InflateFlush::SyncFlush)
                .map_err(|_| invalid_data())?;
            let consumed = (inflater.total_in() - taken) as usize;
            let produced = (inflater.total_out() - given) as usize;
            // SAFETY: the inflater wrote `produced` bytes of the spare capacity.
            unsafe { out.set_len(out.len() + produced) };
            if produced > *limit {
                return Err(ProtocolError::MessageTooBig { limit: 0 });
            }
            if let Some(history) = self.received.as_mut() {
                history.push(&out[out.len() - produced..]);
            }
            *limit -= produced;
            rest = &rest[consumed..];
            if status == Status::StreamEnd {
                // A final block ends the DEFLATE stream (§7.2.3.4); what
                // follows in this message is ignored, as zlib does, and
                // the next message starts a stream of its own.
                inflater.reset(false);
                self.stream_ended = true;
                if let Some(history) = self.received.as_mut() {
                    history.bytes.clear();
                }
                return Ok(());
            }
            if rest.is_empty() && produced < room {
                return Ok(());
            }
            if consumed == 0 && produced == 0 {
                return Err(invalid_data());
            }
        }
    }
}

/// Whether a message big enough to tell looks like it would not shrink
/// (already compressed media, encrypted or random bytes): the byte entropy
/// of a 4 KiB sample from its middle is near 8 bits. DEFLATE spends the
/// most time on exactly such data (40 MB/s natively, half that in wasm)
/// to gain nothing; a message sent uncompressed leaves the window as it
/// was, on both ends.
fn looks_incompressible(message: &[u8]) -> bool {
    const SAMPLE: usize = 4096;
    if message.len() < 4 * SAMPLE {
        return false;
    }
    let at = message.len() / 2 - SAMPLE / 2;
    let mut counts = [0u32; 256];
    for &b in &message[at..at + SAMPLE] {
        counts[b as usize] += 1;
    }
    let n = SAMPLE as f64;
    let entropy: f64 = (counts.iter().filter(|&&c| c > 0))
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    // 4096 random bytes measure about 7.95; text stays well under 7.
    entropy > 7.9
}

fn invalid_data() -> ProtocolError {
    ProtocolError::Extension {
        close_code: code::INVALID_DATA,
        message: "compressed data does not inflate".into(),
    }
}

impl Extension for Codec {
    fn rsv_bits(&self) -> u8 {
        0b100
    }

    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        let mut limit = limit;
        self.inflate(input, out, &mut limit)?;
        if fin {
            self.inflate(&TAIL, out, &mut limit)?;
            self.stream_ended = false;
            if self.receive_reset {
                if let Some(inflater) = self.inflater.as_mut() {
                    inflater.reset(false);
                }
            }
        }
        Ok(())
    }

    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool {
        if message.len() < self.threshold || looks_incompressible(message) {
            return false;
        }
        let (level, bits) = (self.level, self.send_bits);
        let deflater = self.deflater.get_or_insert_with(|| {
            let mut deflater = Deflate::new(level, false, bits);
            if let Some(history) = self.sent.as_mut().filter(|h| !h.bytes.is_empty()) {
                let _ = deflater.set_dictionary(history.dictionary());
            }
            deflater
        });
        let start = out.len();
        let mut rest = message;
        loop {
            let room = (rest.len() / 2).clamp(64, 1 << 20);
            out.reserve(room);
            let spare = &mut out.spare_capacity_mut()[..room];
            let (taken, given) = (deflater.total_in(), deflater.total_out());
            if deflater
                .compress_uninit(rest, spare, DeflateFlush::SyncFlush)
                .is_err()
            {
                // A state that failed cannot be trusted for the next message.
                out.truncate(start);
                self.deflater = None;
                return false;
            }
            let consumed = (deflater.total_in() - taken) as usize;
            let produced = (deflater.total_out() - given) as usize;
            // SAFETY: the deflater wrote `produced` bytes of the spare capacity.
            unsafe { out.set_len(out.len() + produced) };
            rest = &rest[consumed..];
            if rest.is_empty() && produced < room {
                break;
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.send_reset {
            deflater.reset();
        }
        if let Some(history) = self.sent.as_mut() {
            history.push(message);
        }
        true
    }

    fn trim(&mut self) {
        self.deflater = None;
        self.inflater = None;
    }

    fn fresh(&self) -> Option<Fresh> {
        self.send_reset.then_some(Fresh {
            level: self.level,
            bits: self.send_bits,
            threshold: self.threshold,
        })
    }

    fn spare_memory(&self) -> usize {
        let deflate = if self.deflater.is_some() {
            DEFLATE_STATE
        } else {
            0
        };
        let inflate = if self.inflater.is_some() {
            INFLATE_STATE
        } else {
            0
        };
        deflate + inflate
    }
}

#[cfg(test)]
mod tests;
