//! How a host writes into the engine's buffers in place, for the wasm host,
//! which copies each transport chunk and each outgoing message straight into
//! wasm memory once instead of passing it in. Not part of the crate's API:
//! only `wasm` uses it.

use super::*;
use crate::sender::Slot;

/// Where the host writes a message it sends in place.
#[derive(Clone, Copy, Debug)]
pub(super) enum Room {
    /// In the output, after room for its header.
    Output(Slot),
    /// In `Connection::aside`, for the agreed extension to read; up to this
    /// many bytes.
    Aside(usize),
}

impl Connection {
    /// Bytes of buffer held for messages the host writes aside.
    pub(super) fn in_place_capacity(&self) -> usize {
        self.aside.capacity()
    }

    pub(super) fn trim_in_place(&mut self) {
        self.aside = Vec::new();
    }

    /// Room for `len` bytes of transport input, for hosts that write it in
    /// place (the wasm host copies each chunk straight here): a pointer to
    /// `len` writable bytes, valid until `commit_input` or any other call.
    /// Null if there is no memory for them: the connection has failed
    /// (`Error::OutOfMemory`), and the input is to be dropped.
    pub(crate) fn input_buffer(&mut self, len: usize) -> *mut u8 {
        self.begin(self.now);
        if !self.make_room(len) {
            return std::ptr::null_mut();
        }
        let arena = &mut self.events.arena;
        arena.spare_capacity_mut().as_mut_ptr().cast()
    }

    /// Takes `len` bytes the host wrote at `input_buffer`.
    ///
    /// # Safety
    /// The host must have written `len` bytes, with `len` no more than it
    /// asked `input_buffer` for, and made no other call in between.
    pub(crate) unsafe fn commit_input(&mut self, len: usize, now: u64) {
        let arena = &mut self.events.arena;
        let start = arena.len();
        assert!(
            len <= arena.capacity() - start,
            "more input than input_buffer reserved"
        );
        // SAFETY: the caller wrote these `len` bytes of spare capacity.
        unsafe { arena.set_len(start + len) };
        self.now = self.now.max(now);
        self.take_input(start, now);
    }

    /// Room for a message of up to `max_len` bytes that the host writes in
    /// place (the wasm host encodes text straight into it): in the output,
    /// after room for its header, or, when an extension is agreed (it writes
    /// its own output), aside for it to read. A pointer valid until
    /// `commit_message` or any other call. Null if there is no memory for
    /// it: the connection has failed (`Error::OutOfMemory`), as WHATWG
    /// closes a WebSocket whose send cannot be buffered.
    pub(crate) fn message_buffer(&mut self, max_len: usize) -> *mut u8 {
        self.begin(self.now);
        self.room = None;
        if self.extension.is_some() {
            self.aside.clear();
            if self.aside.try_reserve(max_len).is_err() {
                self.fail(Error::OutOfMemory { bytes: max_len });
                return std::ptr::null_mut();
            }
            self.room = Some(Room::Aside(max_len));
            return self.aside.as_mut_ptr();
        }
        let Some(slot) = self.sender.reserve(&mut self.out, max_len) else {
            self.fail(Error::OutOfMemory { bytes: max_len });
            return std::ptr::null_mut();
        };
        self.room = Some(Room::Output(slot));
        // SAFETY: `reserve` made room for the header and `max_len` bytes.
        unsafe { self.out.as_mut_ptr().add(slot.payload_at()) }
    }

    /// Sends the message of `len` bytes the host wrote at `message_buffer`.
    ///
    /// # Safety
    /// The host must have written `len` bytes, no more than it asked
    /// `message_buffer` for, and made no other call in between. Text must
    /// be UTF-8.
    pub(crate) unsafe fn commit_message(
        &mut self,
        kind: MessageKind,
        len: usize,
    ) -> Result<(), UsageError> {
        let room = self
            .room
            .take()
            .ok_or(UsageError::InvalidState("no message_buffer to commit"))?;
        self.check_can_send()?;
        match room {
            // SAFETY: the slot is the last one reserved, and the caller wrote the payload.
            Room::Output(slot) => unsafe {
                (self.sender).commit(&mut self.out, &mut self.events, slot, kind, len)
            },
            Room::Aside(max_len) => {
                assert!(len <= max_len, "more than message_buffer reserved");
                // SAFETY: the caller wrote these `len` bytes of spare capacity.
                unsafe { self.aside.set_len(len) };
                let message = std::mem::take(&mut self.aside);
                let sent = self.send(kind, &message);
                self.aside = message;
                self.aside.clear();
                sent
            }
        }
    }

    /// Marks every event not yet reported as taken, for a host that reads them
    /// straight from memory; returns the first one's index, address and count.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn report_events(&mut self) -> (usize, *const crate::event::RawEvent, usize) {
        let first = self.events.taken;
        self.events.taken = self.events.raw.len();
        (
            first,
            self.events.raw[first..].as_ptr(),
            self.events.raw.len() - first,
        )
    }

    /// The addresses of the buffers event payloads point into (arena, side).
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn event_buffers(&self) -> (*const u8, *const u8) {
        (self.events.arena.as_ptr(), self.events.side.as_ptr())
    }

    /// Writes the replies owed for events before index `upto`.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn release_events(&mut self, upto: usize) {
        self.release_through(upto.min(self.events.taken));
    }
}
