//! Answering pings (§5.5.2–5.5.3): a pong per ping, or, while the host holds
//! them because the peer is not reading, one pong for the latest ping, with a
//! bound on how long and how many.

use super::*;

/// Pings answered by no pong yet, while pongs are held.
pub(super) struct HeldPong {
    /// The latest ping's payload, which the one pong owed carries.
    pub(super) payload: Vec<u8>,
    /// Pings since the last pong was written.
    pub(super) pings: u32,
    /// When the first of them came.
    pub(super) since: u64,
}

impl Connection {
    /// Answers a ping the host has taken (see `release_through`).
    pub(super) fn answer_ping(&mut self, payload: Vec<u8>) {
        if !self.config.auto_pong || self.close_sent {
            return;
        }
        if self.holding {
            self.hold_pong(payload);
        } else {
            self.write_pong(&payload);
        }
    }

    pub(super) fn write_pong(&mut self, payload: &[u8]) {
        self.sender.frame(
            &mut self.out,
            &mut self.events,
            OpCode::Pong as u8,
            true,
            0,
            payload,
        );
    }

    /// Keeps the pong owed for a ping while pongs are held: one, for the
    /// latest ping. A peer that goes on pinging past `max_held_pings`, or
    /// whose pong stays held for `close_timeout`, is not reading what it
    /// asks for, and the connection fails with 1008.
    pub(super) fn hold_pong(&mut self, payload: Vec<u8>) {
        let since = self.now;
        let held = self.held.get_or_insert_with(|| {
            Box::new(HeldPong {
                payload: Vec::new(),
                pings: 0,
                since,
            })
        });
        held.payload = payload;
        held.pings += 1;
        let pings = held.pings;
        if pings > self.config.max_held_pings {
            self.fail(Error::PongsUnread { pings });
        }
    }

    /// Whether the pongs the engine owes are written at once (`false`, the
    /// default) or held: the host turns holding on while the transport has
    /// not yet taken the last pong and is behind with the output, so that a
    /// peer that pings and never reads cannot make pongs pile up. While
    /// held, one pong is owed, for the latest ping (§5.5.3 asks no more);
    /// turning holding off writes it. A host that can also stop reading its
    /// transport while a pong is held (`pongs_held`) bounds the work a flood
    /// of pings costs as well; a pong held for `close_timeout` fails the
    /// connection with 1008.
    pub fn hold_pongs(&mut self, hold: bool) {
        self.begin(self.now);
        self.holding = hold;
        if hold {
            return;
        }
        if let Some(held) = self.held.take() {
            if self.phase == Phase::Open && !self.close_sent && !self.closed {
                self.write_pong(&held.payload);
            }
        }
    }

    /// How many pings a held pong answers (0: none is held).
    pub fn pongs_held(&self) -> u32 {
        self.held.as_ref().map_or(0, |h| h.pings)
    }
}
