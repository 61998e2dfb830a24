//! The C types and constants of `include/websocket.h`, laid out as C lays
//! them out. Enums cross the boundary as `u32` and are converted with the
//! component's `from_u32`, so a value outside an enum is an error, never
//! undefined behaviour.

use std::ffi::{c_char, c_void};

use wasmsocket::component::HResult;

/// `HRESULT`.
pub type Hresult = i32;

/// `S_OK`.
pub const S_OK: Hresult = 0;
/// `S_FALSE` (declared by the header; no function returns it).
#[cfg(test)]
pub const S_FALSE: Hresult = 1;
/// `E_FAIL`: a panic inside the library, or no entropy from the OS.
pub const E_FAIL: Hresult = 0x8000_4005_u32 as i32;
/// `E_INVALIDARG`.
pub const E_INVALIDARG: Hresult = HResult::InvalidArg as u32 as i32;
/// `E_POINTER` (declared by the header; NULL pointers are `E_INVALIDARG`).
#[cfg(test)]
pub const E_POINTER: Hresult = 0x8000_4003_u32 as i32;
/// `WS_E_INVALID_FORMAT`.
pub const WS_E_INVALID_FORMAT: Hresult = HResult::InvalidFormat as u32 as i32;
/// `WS_E_OBJECT_FAULTED` (declared by the header; not returned).
#[cfg(test)]
pub const WS_E_OBJECT_FAULTED: Hresult = 0x803D_0001_u32 as i32;
/// `WS_E_NUMERIC_OVERFLOW`.
pub const WS_E_NUMERIC_OVERFLOW: Hresult = HResult::NumericOverflow as u32 as i32;
/// `WS_E_OPERATION_ABORTED` (declared by the header; not returned).
#[cfg(test)]
pub const WS_E_OPERATION_ABORTED: Hresult = 0x803D_0004_u32 as i32;

/// `WEB_SOCKET_CLOSE_STATUS`'s `WEB_SOCKET_EMPTY_CLOSE_STATUS`.
pub const EMPTY_CLOSE_STATUS: u16 = wasmsocket::component::close_status::EMPTY;

/// `WEB_SOCKET_PROPERTY`.
#[repr(C)]
pub struct WebSocketProperty {
    /// `WEB_SOCKET_PROPERTY_TYPE Type`.
    pub kind: u32,
    /// `PVOID pvValue`.
    pub value: *mut c_void,
    /// `ULONG ulValueSize`.
    pub size: u32,
}

/// `WEB_SOCKET_HTTP_HEADER`.
#[repr(C)]
pub struct WebSocketHttpHeader {
    /// `PCHAR pcName`.
    pub name: *mut c_char,
    /// `ULONG ulNameLength`.
    pub name_length: u32,
    /// `PCHAR pcValue`.
    pub value: *mut c_char,
    /// `ULONG ulValueLength`.
    pub value_length: u32,
}

/// `WEB_SOCKET_BUFFER`'s `Data`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DataBuffer {
    /// `PBYTE pbBuffer`.
    pub buffer: *mut u8,
    /// `ULONG ulBufferLength`.
    pub length: u32,
}

/// `WEB_SOCKET_BUFFER`'s `CloseStatus`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CloseBuffer {
    /// `PBYTE pbReason`.
    pub reason: *mut u8,
    /// `ULONG ulReasonLength`.
    pub reason_length: u32,
    /// `USHORT usStatus`.
    pub status: u16,
}

/// `WEB_SOCKET_BUFFER`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union WebSocketBuffer {
    /// For every buffer type but `WEB_SOCKET_CLOSE_BUFFER_TYPE`.
    pub data: DataBuffer,
    /// For `WEB_SOCKET_CLOSE_BUFFER_TYPE`.
    pub close: CloseBuffer,
}

/// `WEB_SOCKET_HANDLE`: what the application holds is a pointer to this.
pub type WebSocketHandle = *mut crate::Session;

/// The code of a component error, as C sees it.
pub fn code(e: HResult) -> Hresult {
    e.code()
}
