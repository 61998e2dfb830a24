/*
 * check.h: the checks of the C tests. A failed check prints where it is,
 * what it tested and why it failed, and exits with status 1; passed checks
 * are counted for the closing "# pass N" line.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "websocket.h"

static int checks_passed;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            checks_passed++;                                                                                           \
        } else {                                                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                            \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

/* The name of an HRESULT the library returns, for messages. */
static const char *hr_name(HRESULT hr) {
    switch (hr) {
    case S_OK: return "S_OK";
    case E_FAIL: return "E_FAIL";
    case E_INVALIDARG: return "E_INVALIDARG";
    case E_OUTOFMEMORY: return "E_OUTOFMEMORY";
    case E_POINTER: return "E_POINTER";
    case WS_E_INVALID_FORMAT: return "WS_E_INVALID_FORMAT";
    case WS_E_NUMERIC_OVERFLOW: return "WS_E_NUMERIC_OVERFLOW";
    case WS_E_INVALID_OPERATION: return "WS_E_INVALID_OPERATION";
    case E_INVALID_PROTOCOL_OPERATION: return "E_INVALID_PROTOCOL_OPERATION";
    case E_INVALID_PROTOCOL_FORMAT: return "E_INVALID_PROTOCOL_FORMAT";
    case E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED: return "E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED";
    case E_SUBPROTOCOL_NOT_SUPPORTED: return "E_SUBPROTOCOL_NOT_SUPPORTED";
    case E_PROTOCOL_VERSION_NOT_SUPPORTED: return "E_PROTOCOL_VERSION_NOT_SUPPORTED";
    default: return "another HRESULT";
    }
}

/* `expr` returns the HRESULT `want`. */
#define CHECK_HR(expr, want)                                                                                           \
    do {                                                                                                               \
        HRESULT hr_ = (expr);                                                                                          \
        CHECK(hr_ == (want), "%s returned %s (0x%08X), expected %s", #expr, hr_name(hr_), (unsigned)hr_, #want);       \
    } while (0)

#endif
