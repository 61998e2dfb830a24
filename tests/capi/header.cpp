// header.cpp: websocket.h compiled as C++ (extern "C", the enums, the union)
// and linked to the library: a few calls, with C++'s stricter conversions.
#include <cstdio>
#include <cstring>

#include "websocket.h"

static_assert(sizeof(WEB_SOCKET_BUFFER_TYPE) == 4, "enums are ULONG-sized");
static_assert(WEB_SOCKET_ALL_ACTION_QUEUE == 3, "SEND | RECEIVE");
static_assert(WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE == 0x80000006u, "buffer types");
static_assert(WEB_SOCKET_MAX_CLOSE_REASON_LENGTH == 123, "close reason");

static int failures = 0;
static int passed = 0;

static void check(bool ok, const char *what) {
    if (ok) {
        passed++;
    } else {
        std::fprintf(stderr, "FAIL header.cpp: %s\n", what);
        failures++;
    }
}

int main() {
    ULONG versions[2] = {};
    ULONG size = sizeof versions;
    check(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, versions, &size) == S_OK, "versions");
    check(size == 4 && versions[0] == 13, "version 13");
    check(SUCCEEDED(S_OK) && FAILED(E_INVALIDARG), "SUCCEEDED and FAILED");

    WEB_SOCKET_HANDLE h = nullptr;
    ULONG receive = 512;
    WEB_SOCKET_PROPERTY property = {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &receive, sizeof receive};
    check(WebSocketCreateClientHandle(&property, 1, &h) == S_OK && h != nullptr, "a client handle");
    char host_name[] = "Host", host_value[] = "example.com";
    WEB_SOCKET_HTTP_HEADER host = {host_name, 4, host_value, 11};
    PCSTR subprotocols[] = {"chat"};
    PWEB_SOCKET_HTTP_HEADER additional = nullptr;
    ULONG count = 0;
    check(WebSocketBeginClientHandshake(h, subprotocols, 1, nullptr, 0, &host, 1, &additional, &count) == S_OK,
          "begin");
    check(count == 5 && additional != nullptr, "five headers to add");
    WEB_SOCKET_BUFFER buffer = {};
    buffer.Data.pbBuffer = reinterpret_cast<PBYTE>(host_value);
    buffer.Data.ulBufferLength = 11;
    check(WebSocketSend(h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, &buffer, nullptr) == WS_E_INVALID_OPERATION,
          "no send before the handshake ends");
    WebSocketAbortHandle(h);
    WebSocketDeleteHandle(h);

    if (failures)
        return 1;
    std::printf("# pass %d\n", passed);
    return 0;
}
