//! libwebsocket: websocket.dll's C API (`include/websocket.h`) over
//! `wasmsocket::component`. Each of the thirteen functions checks its
//! pointers, converts between C and Rust values and calls the handle; the
//! protocol, the queue and the handshake rules all live in the component.
//!
//! Where Microsoft's documentation is silent, this library decides:
//! - A NULL pointer where one is required (a handle, an output, an array
//!   with a non-zero count) is `E_INVALIDARG`, never a crash; `E_POINTER`
//!   is declared but not returned, as every argument error has one code.
//! - A panic never crosses into C: it becomes `E_FAIL` (nothing for the
//!   `VOID` functions), and the handle it happened in answers `E_FAIL` from
//!   then on, as its state can no longer be trusted.
//! - Calls on one handle are serialised by a lock, so the send side and the
//!   receive side may run on two threads, as servers built on websocket.dll
//!   do; `WebSocketDeleteHandle` must not race with the others.
//! - `ULONG` and `BOOL` properties must have `ulValueSize` 4; a `BOOL` is
//!   true when non-zero. The global properties (keep-alive, versions) and
//!   unknown types are `E_INVALIDARG` on a handle.
//! - `WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE`: `pvValue` is the buffer
//!   and `ulValueSize` its size; it must be 8-byte aligned and larger than
//!   receive + send buffer + 256 bytes, and stay valid until
//!   `WebSocketDeleteHandle`. `RECEIVE_FROM_NETWORK` hands out its first
//!   receive-buffer-size bytes, and the bytes read are taken from there, so
//!   the handle keeps no receive buffer of its own.
//! - The client's `Sec-WebSocket-Key` and masking keys come from 48 bytes
//!   of the operating system's randomness, read when the handle is made
//!   (`E_FAIL` if there is none).
//! - Header arrays returned by the `Begin*Handshake` functions are owned by
//!   the handle, valid until its next handshake call or its deletion; their
//!   names and values are not NUL-terminated (use the lengths).
//! - Header names and values the application passes as its own (initial
//!   headers) must be UTF-8 (`WS_E_INVALID_FORMAT`); the peer's (response
//!   and request headers) are decoded as the engine decodes a head it
//!   parses, invalid bytes becoming U+FFFD, so an odd byte in an unrelated
//!   header does not fail the handshake. Subprotocol and extension strings
//!   must be UTF-8 too.
//! - `WebSocketBeginServerHandshake`: a NULL or empty subprotocol selects
//!   none.
//! - `WebSocketEndClientHandshake`: when extensions were offered, the
//!   selected-extension array and its count are required and the count must
//!   be at least the number offered; a smaller one is `WS_E_NUMERIC_OVERFLOW`
//!   with the count set to the number needed, checked before the response,
//!   so the call can be repeated. The subprotocol index is written only when
//!   the server chose one.
//! - `WebSocketSend`: `pBuffer` must be NULL for pings and pongs
//!   (`E_INVALIDARG` otherwise, as documented); a NULL `pBuffer` with
//!   `WEB_SOCKET_CLOSE_BUFFER_TYPE` sends a close frame without a status
//!   (1005). The data is copied, so the buffer is the application's again
//!   as soon as the call returns.
//! - `WebSocketReceive` with a buffer: each piece is at most its length and
//!   is copied into it at `INDICATE_RECEIVE_COMPLETE`, whose buffer then
//!   points there. A close's reason is not copied: `CloseStatus.pbReason`
//!   points into the handle (NULL when the reason is empty), valid until
//!   `WebSocketCompleteAction`, as with every buffer `WebSocketGetAction`
//!   returns; so is any piece the buffer cannot hold whole, rather than
//!   cutting it short.
//! - `WebSocketGetAction`: `*pulDataBufferCount` must be at least 1 on input
//!   (one buffer is the most an action has); on output it is 0 or 1. A
//!   `SEND_TO_NETWORK` buffer is always `Data` (the bytes to write), even
//!   for a close; `*pBufferType` is 0 when the action has none;
//!   `pvApplicationContext` may be NULL and is set to NULL for the
//!   component's own sends and `NO_ACTION`. A handle-owned buffer of length
//!   0 has a NULL pointer. When the call fails, `*pAction` is
//!   `WEB_SOCKET_NO_ACTION` and the count 0: there is nothing to complete.
//! - `WebSocketGetGlobalProperty`: `*ulSize` too small is
//!   `WS_E_NUMERIC_OVERFLOW` with `*ulSize` set to the size needed; on
//!   success `*ulSize` is the size written.
//! - `WebSocketCreate*Handle` sets `*phWebSocket` to NULL when it fails.

// The exported names are websocket.dll's.
#![allow(non_snake_case)]

mod ffi;

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{null_mut, without_provenance_mut};
use std::sync::Mutex;

use wasmsocket::component::{
    self, Action, ActionInfo, ActionQueue, BufferType, GlobalProperty, Handle, Payload, Property,
    PropertyType,
};
use wasmsocket::handshake::Header;

use ffi::*;

/// What a `WEB_SOCKET_HANDLE` points to.
pub struct Session {
    state: Mutex<State>,
}

/// A handle and the memory the C face hands out for it.
struct State {
    handle: Handle,
    /// The headers the last `Begin*Handshake` returned, and the C array
    /// that points into them.
    headers: Vec<Header>,
    header_array: Vec<WebSocketHttpHeader>,
    /// How many extensions `WebSocketBeginClientHandshake` offered: the
    /// least room `WebSocketEndClientHandshake` needs for its answer.
    offered_extensions: usize,
    /// The application's `ALLOCATED_BUFFER`, if it gave one.
    allocated: Option<Memory>,
    /// The application's buffer the queued receive fills, if it gave one.
    receive_into: Option<Memory>,
    /// The `RECEIVE_FROM_NETWORK` action reading into `allocated`.
    reading: Option<usize>,
}

/// Memory of the application's.
#[derive(Clone, Copy)]
struct Memory {
    ptr: *mut u8,
    len: usize,
}

/// Runs `f`, turning a panic into `E_FAIL`: unwinding into C is undefined.
fn guard(f: impl FnOnce() -> Hresult) -> Hresult {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(E_FAIL)
}

/// The session behind a handle.
///
/// # Safety
/// `h` is NULL or a handle made by `WebSocketCreate*Handle` and not deleted.
unsafe fn session<'a>(h: WebSocketHandle) -> Option<&'a Session> {
    // SAFETY: as the caller promises.
    unsafe { h.as_ref() }
}

/// Runs `f` on a session's state, under its lock. A lock poisoned by a
/// panic leaves the handle answering `E_FAIL`.
fn run(session: Option<&Session>, f: impl FnOnce(&mut State) -> Result<(), Hresult>) -> Hresult {
    guard(|| {
        let Some(session) = session else {
            return E_INVALIDARG;
        };
        let Ok(mut state) = session.state.lock() else {
            return E_FAIL;
        };
        match f(&mut state) {
            Ok(()) => S_OK,
            Err(e) => e,
        }
    })
}

/// The `n` items at `p`; NULL only for none.
///
/// # Safety
/// `p` is NULL or points to `n` initialised items that outlive `'a`.
unsafe fn items<'a, T>(p: *const T, n: u32) -> Result<&'a [T], Hresult> {
    match (p.is_null(), n) {
        (_, 0) => Ok(&[]),
        (true, _) => Err(E_INVALIDARG),
        // SAFETY: as the caller promises.
        (false, n) => Ok(unsafe { std::slice::from_raw_parts(p, n as usize) }),
    }
}

/// An array of NUL-terminated UTF-8 strings (subprotocols, extensions).
///
/// # Safety
/// As `items`, each entry NULL or a NUL-terminated string.
unsafe fn strings(p: *const Pcstr, n: u32) -> Result<Vec<String>, Hresult> {
    // SAFETY: as the caller promises.
    let entries = unsafe { items(p, n) }?;
    let one = |&s: &Pcstr| {
        // SAFETY: as the caller promises.
        unsafe { string(s) }?.ok_or(E_INVALIDARG)
    };
    entries.iter().map(one).collect()
}

/// `PCSTR`: a NUL-terminated string.
type Pcstr = *const c_char;

/// A NUL-terminated UTF-8 string, or None for NULL.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
unsafe fn string(s: Pcstr) -> Result<Option<String>, Hresult> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: as the caller promises.
    let text = unsafe { CStr::from_ptr(s) }.to_str();
    text.map(|t| Some(t.to_owned()))
        .map_err(|_| WS_E_INVALID_FORMAT)
}

/// An array of headers: the application's own must be UTF-8, the peer's
/// are decoded leniently (see the crate's notes).
///
/// # Safety
/// As `items`, each name and value pointing to its length of bytes.
unsafe fn headers(
    p: *const WebSocketHttpHeader,
    n: u32,
    from_peer: bool,
) -> Result<Vec<Header>, Hresult> {
    let text = |p: *const c_char, n: u32| -> Result<String, Hresult> {
        // SAFETY: as the caller promises.
        let bytes = unsafe { items(p.cast::<u8>(), n) }?;
        match from_peer {
            true => Ok(String::from_utf8_lossy(bytes).into_owned()),
            false => {
                (std::str::from_utf8(bytes).map(str::to_owned)).map_err(|_| WS_E_INVALID_FORMAT)
            }
        }
    };
    // SAFETY: as the caller promises.
    let list = unsafe { items(p, n) }?;
    let pair = |h: &WebSocketHttpHeader| {
        Ok((text(h.name, h.name_length)?, text(h.value, h.value_length)?))
    };
    list.iter().map(pair).collect()
}

/// The properties of a handle, and the allocated buffer if one is given.
///
/// # Safety
/// As `items`, each value pointing to its size of bytes.
unsafe fn properties(
    p: *const WebSocketProperty,
    n: u32,
) -> Result<(Vec<Property>, Option<Memory>), Hresult> {
    let mut list = Vec::new();
    let mut allocated = None;
    // SAFETY: as the caller promises.
    for property in unsafe { items(p, n) }? {
        let ulong = || {
            if property.value.is_null() || property.size as usize != size_of::<u32>() {
                return Err(E_INVALIDARG);
            }
            // SAFETY: four bytes, as checked; C does not promise alignment.
            Ok(unsafe { property.value.cast::<u32>().read_unaligned() })
        };
        match PropertyType::from_u32(property.kind) {
            Some(PropertyType::ReceiveBufferSize) => {
                list.push(Property::ReceiveBufferSize(ulong()?))
            }
            Some(PropertyType::SendBufferSize) => list.push(Property::SendBufferSize(ulong()?)),
            Some(PropertyType::DisableMasking) => {
                list.push(Property::DisableMasking(ulong()? != 0))
            }
            Some(PropertyType::DisableUtf8Verification) => {
                list.push(Property::DisableUtf8Verification(ulong()? != 0))
            }
            Some(PropertyType::AllocatedBuffer)
                if !property.value.is_null() && property.value as usize % 8 == 0 =>
            {
                allocated = Some(Memory {
                    ptr: property.value.cast(),
                    len: property.size as usize,
                })
            }
            _ => return Err(E_INVALIDARG),
        }
    }
    Ok((list, allocated))
}

/// A length as a `ULONG`.
fn ulong(n: usize) -> Result<u32, Hresult> {
    u32::try_from(n).map_err(|_| WS_E_NUMERIC_OVERFLOW)
}

/// A `Data` buffer over bytes the handle owns (NULL when empty).
fn data(bytes: &[u8]) -> WebSocketBuffer {
    let buffer = match bytes.is_empty() {
        true => null_mut(),
        false => bytes.as_ptr().cast_mut(),
    };
    WebSocketBuffer {
        data: DataBuffer {
            buffer,
            // Pieces and frames fit: see `WebSocketSend`.
            length: bytes.len() as u32,
        },
    }
}

impl State {
    fn new(handle: Handle, allocated: Option<Memory>) -> State {
        State {
            handle,
            headers: Vec::new(),
            header_array: Vec::new(),
            offered_extensions: 0,
            allocated,
            receive_into: None,
            reading: None,
        }
    }

    /// Keeps `headers` and returns a C array pointing into them.
    fn publish(
        &mut self,
        headers: Vec<Header>,
    ) -> Result<(*mut WebSocketHttpHeader, u32), Hresult> {
        self.headers = headers;
        let mut array = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            array.push(WebSocketHttpHeader {
                name: name.as_ptr().cast_mut().cast(),
                name_length: ulong(name.len())?,
                value: value.as_ptr().cast_mut().cast(),
                value_length: ulong(value.len())?,
            });
        }
        self.header_array = array;
        Ok((
            self.header_array.as_mut_ptr(),
            ulong(self.header_array.len())?,
        ))
    }

    /// Frees the headers of an earlier handshake call.
    fn forget_headers(&mut self) {
        self.header_array = Vec::new();
        self.headers = Vec::new();
    }

    /// The buffer of an action `get_action` handed out, if it has one.
    fn buffer(&mut self, info: &ActionInfo) -> Option<WebSocketBuffer> {
        if info.buffer_count == 0 {
            return None;
        }
        let context = info.action_context;
        let buffer = match (info.action, info.buffer_type) {
            (Action::ReceiveFromNetwork, _) => {
                let (buffer, length) = match self.allocated {
                    Some(memory) => {
                        self.reading = Some(context);
                        (memory.ptr, self.handle.receive_buffer_size())
                    }
                    None => {
                        let room = self.handle.action_buffer(context);
                        (room.as_mut_ptr(), room.len() as u32)
                    }
                };
                WebSocketBuffer {
                    data: DataBuffer { buffer, length },
                }
            }
            (Action::IndicateReceiveComplete, Some(BufferType::Close)) => {
                let reason = self.handle.action_data(context);
                WebSocketBuffer {
                    close: CloseBuffer {
                        reason: match reason.is_empty() {
                            true => null_mut(),
                            false => reason.as_ptr().cast_mut(),
                        },
                        reason_length: reason.len() as u32,
                        status: info.close_status.unwrap_or(EMPTY_CLOSE_STATUS),
                    },
                }
            }
            (Action::IndicateReceiveComplete, _)
                if (self.receive_into)
                    .is_some_and(|into| self.handle.action_data(context).len() <= into.len) =>
            {
                let into = self.receive_into?;
                let piece = self.handle.action_data(context);
                // SAFETY: `into` is the application's buffer of `into.len`
                // bytes (at least the piece's), given to `WebSocketReceive`
                // for this receive; the piece is the handle's own memory, so
                // they do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(piece.as_ptr(), into.ptr, piece.len()) };
                WebSocketBuffer {
                    data: DataBuffer {
                        buffer: into.ptr,
                        length: piece.len() as u32,
                    },
                }
            }
            _ => data(self.handle.action_data(context)),
        };
        Some(buffer)
    }
}

/// `WebSocketCreateClientHandle` and `WebSocketCreateServerHandle`.
///
/// # Safety
/// As `properties`; `out` is NULL or writable.
unsafe fn create(
    props: *const WebSocketProperty,
    count: u32,
    out: *mut WebSocketHandle,
    client: bool,
) -> Hresult {
    guard(|| {
        if out.is_null() {
            return E_INVALIDARG;
        }
        // SAFETY: `out` is writable, as the caller promises.
        unsafe { out.write(null_mut()) };
        let made = || -> Result<WebSocketHandle, Hresult> {
            // SAFETY: as the caller promises.
            let (list, allocated) = unsafe { properties(props, count) }?;
            let handle = match client {
                true => {
                    let mut entropy = [0; 48];
                    getrandom::fill(&mut entropy).map_err(|_| E_FAIL)?;
                    Handle::create_client(list, entropy)
                }
                false => Handle::create_server(list),
            }
            .map_err(code)?;
            if let Some(memory) = allocated {
                let least = component::allocated_buffer_minimum(
                    handle.receive_buffer_size(),
                    handle.send_buffer_size(),
                );
                if memory.len as u64 <= least {
                    return Err(E_INVALIDARG);
                }
            }
            let state = Mutex::new(State::new(handle, allocated));
            Ok(Box::into_raw(Box::new(Session { state })))
        };
        match made() {
            Ok(h) => {
                // SAFETY: as above.
                unsafe { out.write(h) };
                S_OK
            }
            Err(e) => e,
        }
    })
}

/// `WebSocketCreateClientHandle`: a client handle.
///
/// # Safety
/// `properties_ptr` points to `property_count` properties (or is NULL for
/// none), each value to its size of bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketCreateClientHandle(
    properties_ptr: *const WebSocketProperty,
    property_count: u32,
    out: *mut WebSocketHandle,
) -> Hresult {
    // SAFETY: as the caller promises.
    unsafe { create(properties_ptr, property_count, out, true) }
}

/// `WebSocketCreateServerHandle`: a server handle.
///
/// # Safety
/// As `WebSocketCreateClientHandle`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketCreateServerHandle(
    properties_ptr: *const WebSocketProperty,
    property_count: u32,
    out: *mut WebSocketHandle,
) -> Hresult {
    // SAFETY: as the caller promises.
    unsafe { create(properties_ptr, property_count, out, false) }
}

/// `WebSocketBeginClientHandshake`: the headers to add to the request.
///
/// # Safety
/// Every array points to its count of items (or is NULL for none), every
/// string is NUL-terminated, every header points to its lengths of bytes;
/// the outputs are writable; `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketBeginClientHandshake(
    h: WebSocketHandle,
    subprotocols_ptr: *const Pcstr,
    subprotocol_count: u32,
    extensions_ptr: *const Pcstr,
    extension_count: u32,
    initial_ptr: *const WebSocketHttpHeader,
    initial_count: u32,
    additional_out: *mut *mut WebSocketHttpHeader,
    additional_count_out: *mut u32,
) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        s.forget_headers();
        if additional_out.is_null() || additional_count_out.is_null() {
            return Err(E_INVALIDARG);
        }
        // SAFETY: as the caller promises.
        let subprotocols = unsafe { strings(subprotocols_ptr, subprotocol_count) }?;
        // SAFETY: as the caller promises.
        let extensions = unsafe { strings(extensions_ptr, extension_count) }?;
        // SAFETY: as the caller promises.
        let initial = unsafe { headers(initial_ptr, initial_count, false) }?;
        let fields = s
            .handle
            .begin_client_handshake(&refs(&subprotocols), &refs(&extensions), &initial)
            .map_err(code)?;
        s.offered_extensions = extensions.len();
        let (array, count) = s.publish(fields)?;
        // SAFETY: the outputs are writable, as the caller promises.
        unsafe {
            additional_out.write(array);
            additional_count_out.write(count);
        }
        Ok(())
    })
}

/// `WebSocketEndClientHandshake`: checks the response headers; the indices
/// of the extensions and subprotocol the server chose.
///
/// # Safety
/// As `WebSocketBeginClientHandshake`; `selected_extensions` has room for
/// `*selected_extension_count` values.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketEndClientHandshake(
    h: WebSocketHandle,
    response_ptr: *const WebSocketHttpHeader,
    response_count: u32,
    selected_extensions: *mut u32,
    selected_extension_count: *mut u32,
    selected_subprotocol: *mut u32,
) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        s.forget_headers();
        // SAFETY: as the caller promises.
        let response = unsafe { headers(response_ptr, response_count, true) }?;
        let room = match selected_extension_count.is_null() {
            true => 0,
            // SAFETY: as the caller promises.
            false => (unsafe { selected_extension_count.read() }) as usize,
        };
        let offered = s.offered_extensions;
        if offered > 0 {
            if selected_extensions.is_null() || selected_extension_count.is_null() {
                return Err(E_INVALIDARG);
            }
            if room < offered {
                // SAFETY: checked non-NULL; writable as the caller promises.
                unsafe { selected_extension_count.write(ulong(offered)?) };
                return Err(WS_E_NUMERIC_OVERFLOW);
            }
        }
        // Whatever the answer, the handshake is over: a later call is
        // the component's `WS_E_INVALID_OPERATION`, not a size error.
        s.offered_extensions = 0;
        let chosen = s.handle.end_client_handshake(&response).map_err(code)?;
        if !selected_extension_count.is_null() {
            let mut written = 0;
            if !selected_extensions.is_null() {
                for &index in chosen.extensions.iter().take(room) {
                    // SAFETY: `written` < `room`, the array's length.
                    unsafe { selected_extensions.add(written).write(ulong(index)?) };
                    written += 1;
                }
            }
            // SAFETY: as the caller promises.
            unsafe { selected_extension_count.write(ulong(written)?) };
        }
        if let (Some(index), false) = (chosen.subprotocol, selected_subprotocol.is_null()) {
            // SAFETY: as the caller promises.
            unsafe { selected_subprotocol.write(ulong(index)?) };
        }
        Ok(())
    })
}

/// `WebSocketBeginServerHandshake`: checks the request headers; the
/// headers of the 101 response.
///
/// # Safety
/// As `WebSocketBeginClientHandshake`.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketBeginServerHandshake(
    h: WebSocketHandle,
    subprotocol_ptr: Pcstr,
    extensions_ptr: *const Pcstr,
    extension_count: u32,
    request_ptr: *const WebSocketHttpHeader,
    request_count: u32,
    response_out: *mut *mut WebSocketHttpHeader,
    response_count_out: *mut u32,
) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        s.forget_headers();
        if response_out.is_null() || response_count_out.is_null() {
            return Err(E_INVALIDARG);
        }
        // SAFETY: as the caller promises.
        let subprotocol = unsafe { string(subprotocol_ptr) }?.filter(|p| !p.is_empty());
        // SAFETY: as the caller promises.
        let extensions = unsafe { strings(extensions_ptr, extension_count) }?;
        // SAFETY: as the caller promises.
        let request = unsafe { headers(request_ptr, request_count, true) }?;
        let fields = s
            .handle
            .begin_server_handshake(subprotocol.as_deref(), &refs(&extensions), &request)
            .map_err(code)?;
        let (array, count) = s.publish(fields)?;
        // SAFETY: the outputs are writable, as the caller promises.
        unsafe {
            response_out.write(array);
            response_count_out.write(count);
        }
        Ok(())
    })
}

/// `WebSocketEndServerHandshake`: the handshake is done (optional).
///
/// # Safety
/// `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketEndServerHandshake(h: WebSocketHandle) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        s.forget_headers();
        s.handle.end_server_handshake().map_err(code)
    })
}

/// `WebSocketSend`: queues a message, a fragment, a close, a ping or an
/// unsolicited pong; the data is copied.
///
/// # Safety
/// `buffer_ptr` is NULL or a buffer whose member for `BufferType` points to
/// its length of bytes; `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketSend(
    h: WebSocketHandle,
    buffer_type: u32,
    buffer_ptr: *const WebSocketBuffer,
    context: *mut c_void,
) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        let kind = BufferType::from_u32(buffer_type).ok_or(E_INVALIDARG)?;
        // SAFETY: as the caller promises.
        let buffer = unsafe { buffer_ptr.as_ref() };
        let payload = match (kind, buffer) {
            (BufferType::PingPong | BufferType::UnsolicitedPong, None) => Payload::None,
            (BufferType::PingPong | BufferType::UnsolicitedPong, Some(_)) => {
                return Err(E_INVALIDARG);
            }
            (BufferType::Close, None) => Payload::Close {
                status: EMPTY_CLOSE_STATUS,
                reason: Vec::new(),
            },
            (BufferType::Close, Some(buffer)) => {
                // SAFETY: a close's buffer is `CloseStatus`, as documented.
                let close = unsafe { buffer.close };
                // SAFETY: as the caller promises.
                let reason = unsafe { items(close.reason, close.reason_length) }?;
                Payload::Close {
                    status: close.status,
                    reason: reason.to_vec(),
                }
            }
            (_, None) => return Err(E_INVALIDARG),
            (_, Some(buffer)) => {
                // SAFETY: a data buffer is `Data`, as documented.
                let data = unsafe { buffer.data };
                // Its frame (at most 14 bytes more) must fit the ULONG
                // length of a SEND_TO_NETWORK buffer.
                if data.length > u32::MAX - 14 {
                    return Err(E_INVALIDARG);
                }
                // SAFETY: as the caller promises.
                Payload::Data(unsafe { items(data.buffer, data.length) }?.to_vec())
            }
        };
        s.handle.send(kind, payload, context as usize).map_err(code)
    })
}

/// `WebSocketReceive`: queues a receive, into the application's buffer if
/// it gives one.
///
/// # Safety
/// `buffer_ptr` is NULL or a `Data` buffer that stays writable until the
/// receive is indicated complete; `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketReceive(
    h: WebSocketHandle,
    buffer_ptr: *const WebSocketBuffer,
    context: *mut c_void,
) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        // SAFETY: as the caller promises.
        let into = match unsafe { buffer_ptr.as_ref() } {
            None => None,
            Some(buffer) => {
                // SAFETY: a receive's buffer is `Data`.
                let data = unsafe { buffer.data };
                if data.buffer.is_null() {
                    return Err(E_INVALIDARG);
                }
                Some(Memory {
                    ptr: data.buffer,
                    len: data.length as usize,
                })
            }
        };
        let max = into.map(|m| m.len);
        s.handle.receive(max, context as usize).map_err(code)?;
        s.receive_into = into;
        Ok(())
    })
}

/// `WebSocketGetAction`: the next action of a queue.
///
/// # Safety
/// The outputs are writable (`application_context_out` may be NULL);
/// `buffers_out` has room for `*buffer_count` buffers;
/// `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketGetAction(
    h: WebSocketHandle,
    queue: u32,
    buffers_out: *mut WebSocketBuffer,
    buffer_count: *mut u32,
    action_out: *mut u32,
    buffer_type_out: *mut u32,
    application_context_out: *mut *mut c_void,
    action_context: *mut *mut c_void,
) -> Hresult {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        let required = [buffer_count, action_out, buffer_type_out];
        if buffers_out.is_null() || required.iter().any(|p| p.is_null()) {
            return Err(E_INVALIDARG);
        }
        if action_context.is_null() {
            return Err(E_INVALIDARG);
        }
        // SAFETY: checked non-NULL; readable as the caller promises.
        if unsafe { buffer_count.read() } < 1 {
            return Err(E_INVALIDARG);
        }
        let queue = ActionQueue::from_u32(queue).ok_or(E_INVALIDARG)?;
        let (info, result) = match s.handle.get_action(queue) {
            Ok(info) => (Some(info), Ok(())),
            Err(e) => (None, Err(code(e))),
        };
        let buffer = info.as_ref().and_then(|info| s.buffer(info));
        let context = |c: usize| without_provenance_mut::<c_void>(c);
        // SAFETY: every output was checked non-NULL (the application context
        // is optional) and is writable, as the caller promises; the buffer
        // array has room for one.
        unsafe {
            if let Some(buffer) = buffer {
                buffers_out.write(buffer);
            }
            buffer_count.write(buffer.is_some() as u32);
            action_out.write(info.map_or(Action::NoAction, |i| i.action) as u32);
            buffer_type_out.write(info.and_then(|i| i.buffer_type).map_or(0, |t| t as u32));
            if !application_context_out.is_null() {
                application_context_out.write(context(info.map_or(0, |i| i.application_context)));
            }
            action_context.write(context(info.map_or(0, |i| i.action_context)));
        }
        result
    })
}

/// `WebSocketCompleteAction`: the application carried out an action.
///
/// # Safety
/// `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketCompleteAction(
    h: WebSocketHandle,
    action_context: *mut c_void,
    bytes_transferred: u32,
) {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        let context = action_context as usize;
        let bytes = bytes_transferred as usize;
        match (s.reading, s.allocated) {
            (Some(reading), Some(memory)) if reading == context => {
                s.reading = None;
                let n = bytes.min(s.handle.receive_buffer_size() as usize);
                // SAFETY: the allocated buffer is larger than the receive
                // buffer size and the application's for the handle's life.
                let input = unsafe { std::slice::from_raw_parts(memory.ptr, n) };
                s.handle.complete_receive(context, input);
            }
            _ => s.handle.complete_action(context, bytes),
        }
        Ok(())
    });
}

/// `WebSocketAbortHandle`: queued operations drain, new ones fail.
///
/// # Safety
/// `h` is a live handle or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketAbortHandle(h: WebSocketHandle) {
    // SAFETY: as the caller promises.
    let session = unsafe { session(h) };
    run(session, |s| {
        s.handle.abort();
        Ok(())
    });
}

/// `WebSocketDeleteHandle`: frees the handle and all it handed out.
///
/// # Safety
/// `h` is a live handle or NULL, and no other call uses it.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketDeleteHandle(h: WebSocketHandle) {
    if h.is_null() {
        return;
    }
    guard(|| {
        // SAFETY: made by `Box::into_raw` in `create`, deleted once.
        drop(unsafe { Box::from_raw(h) });
        S_OK
    });
}

/// `WebSocketGetGlobalProperty`: the keep-alive interval or the supported
/// versions.
///
/// # Safety
/// `size` is NULL or readable and writable; `value_out` has room for
/// `*size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn WebSocketGetGlobalProperty(
    kind_value: u32,
    value_out: *mut c_void,
    size: *mut u32,
) -> Hresult {
    guard(|| {
        let Some(kind) = PropertyType::from_u32(kind_value) else {
            return E_INVALIDARG;
        };
        if size.is_null() {
            return E_INVALIDARG;
        }
        let values = match component::get_global_property(kind) {
            Ok(GlobalProperty::KeepaliveInterval(ms)) => vec![ms],
            Ok(GlobalProperty::SupportedVersions(versions)) => versions,
            Err(e) => return code(e),
        };
        let needed = values.len() * size_of::<u32>();
        // SAFETY: checked non-NULL; readable and writable as the caller promises.
        unsafe {
            if (size.read() as usize) < needed {
                size.write(needed as u32);
                return WS_E_NUMERIC_OVERFLOW;
            }
            if value_out.is_null() {
                return E_INVALIDARG;
            }
            for (i, value) in values.into_iter().enumerate() {
                value_out.cast::<u32>().add(i).write_unaligned(value);
            }
            size.write(needed as u32);
        }
        S_OK
    })
}

/// The `&str`s of owned strings.
fn refs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests;
