//! websocket.dll's face to JavaScript (`wasmsocket/component`, written in
//! pkg/lib/component.js): one `ComponentHandle` per `WEB_SOCKET_HANDLE`, over
//! `component::Handle`.
//!
//! Flat like the engine's face: numbers, strings and byte slices in; an
//! HRESULT out (0 for S_OK, else the code as C sees it), thrown as a number
//! by the calls that also return a value. The action `get_action` handed out
//! is read back through getters, one number each.
//!
//! Bytes cross by copy. JS copies an action's buffer out of wasm memory (at
//! `action_data`) before its next call into wasm, which may grow the memory
//! and detach any view; bytes read from the network come in with
//! `complete_receive`, from memory JS owns, so the handle's own receive
//! buffer is never handed out.

use wasm_bindgen::prelude::*;

use super::{flatten, pairs};
use crate::component::{self, ActionInfo, ActionQueue, BufferType, Handle, Payload};
use crate::component::{GlobalProperty, HResult, Property, PropertyType};

/// A WebSocket session of the component, and the action handed out last.
#[wasm_bindgen]
pub struct ComponentHandle {
    handle: Handle,
    action: ActionInfo,
}

/// What `NoAction` looks like, before any `get_action`.
const NO_ACTION: ActionInfo = ActionInfo {
    action: component::Action::NoAction,
    buffer_type: None,
    buffer_count: 0,
    buffer_len: 0,
    close_status: None,
    application_context: 0,
    action_context: 0,
};

fn hresult(r: Result<(), HResult>) -> i32 {
    r.err().map_or(0, HResult::code)
}

fn thrown(e: HResult) -> JsValue {
    JsValue::from(e.code())
}

/// The properties of a flat `[type…]`, `[value…]` pair of lists. A BOOL is
/// 0 or not; an `AllocatedBuffer`'s value is its length in bytes.
fn properties(types: &[u32], values: &[u32]) -> Result<Vec<Property>, HResult> {
    if types.len() != values.len() {
        return Err(HResult::InvalidArg);
    }
    let largest = |t: PropertyType| {
        let sizes = types.iter().zip(values).filter(|(k, _)| **k == t as u32);
        sizes.map(|(_, v)| u64::from(*v)).fold(4096, u64::max)
    };
    // The allocated buffer itself stays in JS, which reads the network into
    // it: the handle's stand-in need only be long enough to pass the check
    // (receive + send + 256, counted in u64 here, where usize may wrap).
    let enough = largest(PropertyType::ReceiveBufferSize)
        + largest(PropertyType::SendBufferSize)
        + u64::from(component::MIN_BUFFER_SIZE)
        + 1;
    let property = |(t, v): (&u32, &u32)| {
        let v = *v;
        let property = match PropertyType::from_u32(*t).ok_or(HResult::InvalidArg)? {
            PropertyType::ReceiveBufferSize => Property::ReceiveBufferSize(v),
            PropertyType::SendBufferSize => Property::SendBufferSize(v),
            PropertyType::DisableMasking => Property::DisableMasking(v != 0),
            PropertyType::AllocatedBuffer => {
                Property::AllocatedBuffer(zeroed(u64::from(v).min(enough) as usize)?)
            }
            PropertyType::DisableUtf8Verification => Property::DisableUtf8Verification(v != 0),
            // Handles refuse the global ones; the component says so.
            PropertyType::KeepaliveInterval => Property::KeepaliveInterval(v),
            PropertyType::SupportedVersions => Property::SupportedVersions(vec![v]),
        };
        Ok(property)
    };
    types.iter().zip(values).map(property).collect()
}

/// `len` zero bytes, or `OutOfMemory` (not an abort).
fn zeroed(len: usize) -> Result<Vec<u8>, HResult> {
    let mut memory = Vec::new();
    memory
        .try_reserve_exact(len)
        .map_err(|_| HResult::OutOfMemory)?;
    memory.resize(len, 0);
    Ok(memory)
}

fn parse_buffer_type(value: u32) -> Result<BufferType, HResult> {
    BufferType::from_u32(value).ok_or(HResult::InvalidArg)
}

#[wasm_bindgen]
impl ComponentHandle {
    /// `WebSocketCreateClientHandle` (`server` false, 48 bytes of `entropy`)
    /// or `WebSocketCreateServerHandle`; throws the HRESULT.
    pub fn create(
        server: bool,
        types: &[u32],
        values: &[u32],
        entropy: &[u8],
    ) -> Result<ComponentHandle, JsValue> {
        let properties = properties(types, values).map_err(thrown)?;
        let handle = match server {
            true => Handle::create_server(properties),
            false => {
                let entropy = entropy.try_into().map_err(|_| HResult::InvalidArg);
                Handle::create_client(properties, entropy.map_err(thrown)?)
            }
        };
        Ok(ComponentHandle {
            handle: handle.map_err(thrown)?,
            action: NO_ACTION,
        })
    }

    /// The size of the buffer a `ReceiveFromNetwork` action hands out.
    pub fn receive_buffer_size(&self) -> u32 {
        self.handle.receive_buffer_size()
    }

    /// `WebSocketBeginClientHandshake`: headers flat `[name, value, …]`, in
    /// and out; throws the HRESULT.
    pub fn begin_client_handshake(
        &mut self,
        subprotocols: Vec<String>,
        extensions: Vec<String>,
        headers: Vec<String>,
    ) -> Result<Vec<String>, JsValue> {
        let subprotocols: Vec<&str> = subprotocols.iter().map(String::as_str).collect();
        let extensions: Vec<&str> = extensions.iter().map(String::as_str).collect();
        let added = self
            .handle
            .begin_client_handshake(&subprotocols, &extensions, &pairs(headers))
            .map_err(thrown)?;
        Ok(flatten(&added))
    }

    /// `WebSocketEndClientHandshake`: the chosen subprotocol's index (-1 for
    /// none), then the accepted extensions' indices; throws the HRESULT.
    pub fn end_client_handshake(&mut self, headers: Vec<String>) -> Result<Vec<i32>, JsValue> {
        let selected = self
            .handle
            .end_client_handshake(&pairs(headers))
            .map_err(thrown)?;
        let index = |i: usize| i as i32;
        let mut out = vec![selected.subprotocol.map_or(-1, index)];
        out.extend(selected.extensions.into_iter().map(index));
        Ok(out)
    }

    /// `WebSocketBeginServerHandshake`: the response headers, flat; throws
    /// the HRESULT.
    pub fn begin_server_handshake(
        &mut self,
        subprotocol: Option<String>,
        extensions: Vec<String>,
        headers: Vec<String>,
    ) -> Result<Vec<String>, JsValue> {
        let extensions: Vec<&str> = extensions.iter().map(String::as_str).collect();
        let response = self
            .handle
            .begin_server_handshake(subprotocol.as_deref(), &extensions, &pairs(headers))
            .map_err(thrown)?;
        Ok(flatten(&response))
    }

    /// `WebSocketEndServerHandshake`.
    pub fn end_server_handshake(&mut self) -> i32 {
        hresult(self.handle.end_server_handshake())
    }

    /// `WebSocketSend` of data (a message or a fragment).
    pub fn send(&mut self, buffer_type: u32, data: &[u8], context: usize) -> i32 {
        self.send_payload(buffer_type, Payload::Data(data.to_vec()), context)
    }

    /// `WebSocketSend` of a close status and reason.
    pub fn send_close(
        &mut self,
        buffer_type: u32,
        status: u16,
        reason: &[u8],
        context: usize,
    ) -> i32 {
        let payload = Payload::Close {
            status,
            reason: reason.to_vec(),
        };
        self.send_payload(buffer_type, payload, context)
    }

    /// `WebSocketSend` with no buffer (a ping or a pong).
    pub fn send_empty(&mut self, buffer_type: u32, context: usize) -> i32 {
        self.send_payload(buffer_type, Payload::None, context)
    }

    /// `WebSocketReceive` of one piece of at most `max` bytes (the length of
    /// the application's buffer) or, with none, the receive buffer size.
    pub fn receive(&mut self, max: Option<u32>, context: usize) -> i32 {
        hresult(self.handle.receive(max.map(|m| m as usize), context))
    }

    /// `WebSocketGetAction`; the action is then read with the getters.
    pub fn get_action(&mut self, queue: u32) -> i32 {
        let Some(queue) = ActionQueue::from_u32(queue) else {
            return HResult::InvalidArg.code();
        };
        let action = self.handle.get_action(queue);
        self.action = action.unwrap_or(NO_ACTION);
        hresult(action.map(drop))
    }

    /// The action's `WEB_SOCKET_ACTION`.
    pub fn action(&self) -> u32 {
        self.action.action as u32
    }

    /// Its `WEB_SOCKET_BUFFER_TYPE`, or 0 for none.
    pub fn buffer_type(&self) -> u32 {
        self.action.buffer_type.map_or(0, |t| t as u32)
    }

    /// How many buffers it has: 0 or 1.
    pub fn buffer_count(&self) -> u32 {
        self.action.buffer_count
    }

    /// Its buffer's length (a close's reason's).
    pub fn buffer_len(&self) -> usize {
        self.action.buffer_len
    }

    /// A received close's status.
    pub fn close_status(&self) -> u16 {
        self.action.close_status.unwrap_or(0)
    }

    /// The context given to `send` or `receive`; 0 for the component's own.
    pub fn application_context(&self) -> usize {
        self.action.application_context
    }

    /// What `complete_action` takes back; 0 for `NoAction`.
    pub fn action_context(&self) -> usize {
        self.action.action_context
    }

    /// Where the buffer of an outstanding action lies in wasm memory
    /// (`buffer_len` bytes), to copy before the next call.
    pub fn action_data(&self, action_context: usize) -> u32 {
        self.handle.action_data(action_context).as_ptr() as u32
    }

    /// `WebSocketCompleteAction` of any action but `ReceiveFromNetwork`.
    pub fn complete_action(&mut self, action_context: usize, bytes: usize) {
        self.handle.complete_action(action_context, bytes);
    }

    /// `WebSocketCompleteAction` of a `ReceiveFromNetwork`, with the bytes
    /// read (none cancels the receive).
    pub fn complete_receive(&mut self, action_context: usize, input: &[u8]) {
        self.handle.complete_receive(action_context, input);
    }

    /// `WebSocketAbortHandle`.
    pub fn abort(&mut self) {
        self.handle.abort();
    }
}

impl ComponentHandle {
    fn send_payload(&mut self, buffer_type: u32, payload: Payload, context: usize) -> i32 {
        let sent =
            parse_buffer_type(buffer_type).and_then(|t| self.handle.send(t, payload, context));
        hresult(sent)
    }
}

/// `WebSocketGetGlobalProperty`: its value as a list (one number for the
/// keep-alive interval); throws the HRESULT.
#[wasm_bindgen]
pub fn component_global_property(property: u32) -> Result<Vec<u32>, JsValue> {
    let property = PropertyType::from_u32(property).ok_or(HResult::InvalidArg);
    match component::get_global_property(property.map_err(thrown)?) {
        Ok(GlobalProperty::KeepaliveInterval(ms)) => Ok(vec![ms]),
        Ok(GlobalProperty::SupportedVersions(versions)) => Ok(versions),
        Err(e) => Err(thrown(e)),
    }
}
