/*
 * tcp_client.c: a WebSocket client over a real TCP socket, written against
 * websocket.h the way a websocket.dll application is: it writes the request
 * line and headers itself, reads and parses the 101 response head itself,
 * and runs the action loop over a blocking socket.
 *
 *   tcp_client HOST PORT PATH
 *
 * Against an echo server: sends text, binary and a 100 KiB message and
 * checks each echo, pings and gets the pong, then closes (its CLOSE, the
 * server's CLOSE, the server ending the TCP connection). Prints "# pass N";
 * any failed check exits non-zero saying what failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

static int fd = -1;
static WEB_SOCKET_HANDLE h;

/* Bytes read past the response head: the first of the WebSocket stream. */
static char head[8192];
static size_t head_length, leftover_start, leftover_end;

static void write_all(const void *bytes, size_t n) {
    const char *p = bytes;
    while (n > 0) {
        ssize_t w = send(fd, p, n, 0);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0, "send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* One read from the network: the leftover of the head first. */
static size_t read_some(void *into, size_t room) {
    if (leftover_start < leftover_end) {
        size_t n = leftover_end - leftover_start;
        if (n > room)
            n = room;
        memcpy(into, head + leftover_start, n);
        leftover_start += n;
        return n;
    }
    for (;;) {
        ssize_t r = recv(fd, into, room, 0);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r >= 0, "recv: %s", strerror(errno));
        return (size_t)r;
    }
}

static void connect_to(const char *host, const char *port) {
    struct addrinfo hints = {0}, *list;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &list);
    CHECK(rc == 0, "getaddrinfo %s:%s: %s", host, port, gai_strerror(rc));
    for (struct addrinfo *a = list; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(list);
    CHECK(fd >= 0, "connect to %s:%s", host, port);
    /* A test must not hang: no read waits longer than 10 s. */
    struct timeval timeout = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
}

static void write_header(const char *name, ULONG nl, const char *value, ULONG vl) {
    write_all(name, nl);
    write_all(": ", 2);
    write_all(value, vl);
    write_all("\r\n", 2);
}

/* Trims spaces and tabs off both ends of [*s, *s + *n). */
static void trim(char **s, size_t *n) {
    while (*n && (**s == ' ' || **s == '\t'))
        ++*s, --*n;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        --*n;
}

static void handshake(const char *host, const char *port, const char *path) {
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &h), S_OK);
    char authority[300];
    snprintf(authority, sizeof authority, "%s:%s", host, port);
    WEB_SOCKET_HTTP_HEADER initial[] = {
        {(PCHAR) "Host", 4, authority, (ULONG)strlen(authority)},
        {(PCHAR) "User-Agent", 10, (PCHAR) "tcp_client.c (websocket.h)", 26},
    };
    PWEB_SOCKET_HTTP_HEADER additional;
    ULONG nadditional;
    CHECK_HR(WebSocketBeginClientHandshake(h, NULL, 0, NULL, 0, initial, 2, &additional, &nadditional), S_OK);

    /* The request: the line, the initial headers, the component's. */
    char line[600];
    int n = snprintf(line, sizeof line, "GET %s HTTP/1.1\r\n", path);
    write_all(line, (size_t)n);
    for (int i = 0; i < 2; i++)
        write_header(initial[i].pcName, initial[i].ulNameLength, initial[i].pcValue, initial[i].ulValueLength);
    for (ULONG i = 0; i < nadditional; i++)
        write_header(additional[i].pcName, additional[i].ulNameLength, additional[i].pcValue,
                     additional[i].ulValueLength);
    write_all("\r\n", 2);

    /* The response head, up to the blank line. */
    char *end = NULL;
    while (!end) {
        CHECK(head_length < sizeof head - 1, "response head too long");
        size_t r = read_some(head + head_length, sizeof head - 1 - head_length);
        CHECK(r > 0, "the server closed during the handshake");
        head_length += r;
        head[head_length] = 0;
        end = strstr(head, "\r\n\r\n");
    }
    leftover_start = (size_t)(end - head) + 4;
    leftover_end = head_length;
    CHECK(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "status 101: %.40s", head);

    /* Its headers, as name and value spans of the head. */
    WEB_SOCKET_HTTP_HEADER response[32];
    ULONG nresponse = 0;
    char *at = strstr(head, "\r\n") + 2;
    while (at < end) {
        char *eol = strstr(at, "\r\n");
        char *colon = memchr(at, ':', (size_t)(eol - at));
        CHECK(colon != NULL, "a header line without a colon");
        CHECK(nresponse < 32, "too many response headers");
        char *value = colon + 1;
        size_t vl = (size_t)(eol - value);
        trim(&value, &vl);
        response[nresponse].pcName = at;
        response[nresponse].ulNameLength = (ULONG)(colon - at);
        response[nresponse].pcValue = value;
        response[nresponse].ulValueLength = (ULONG)vl;
        nresponse++;
        at = eol + 2;
    }
    ULONG subprotocol = 77, nselected = 0;
    CHECK_HR(WebSocketEndClientHandshake(h, response, nresponse, NULL, &nselected, &subprotocol), S_OK);
    CHECK(nselected == 0 && subprotocol == 77, "no extension or subprotocol chosen");
}

/* What arrived for one receive or send. */
struct result {
    WEB_SOCKET_BUFFER_TYPE type;
    unsigned char *data;
    size_t length, room;
    int pieces;
    USHORT status;
    int done;
};

/* Runs the action loop until `r->done`: sends go out, reads block. */
static void run(struct result *r, PVOID want) {
    while (!r->done) {
        WEB_SOCKET_BUFFER b[1];
        ULONG count = 1;
        WEB_SOCKET_ACTION action;
        WEB_SOCKET_BUFFER_TYPE type;
        PVOID app, ctx;
        CHECK_HR(WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, &app, &ctx), S_OK);
        switch (action) {
        case WEB_SOCKET_NO_ACTION: CHECK(0, "nothing left to do, and the awaited action never came"); break;
        case WEB_SOCKET_SEND_TO_NETWORK_ACTION:
            write_all(b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
            WebSocketCompleteAction(h, ctx, b[0].Data.ulBufferLength);
            break;
        case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION: {
            size_t got = read_some(b[0].Data.pbBuffer, b[0].Data.ulBufferLength);
            CHECK(got > 0, "the connection ended while a receive waited");
            WebSocketCompleteAction(h, ctx, (ULONG)got);
            break;
        }
        case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
            CHECK(count == 1, "a received piece");
            if (app == want) {
                r->type = type;
                r->pieces++;
                if (type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
                    r->status = b[0].CloseStatus.usStatus;
                    r->length = b[0].CloseStatus.ulReasonLength;
                    r->done = 1;
                } else {
                    ULONG n = b[0].Data.ulBufferLength;
                    CHECK(r->length + n <= r->room, "echo longer than sent");
                    memcpy(r->data + r->length, b[0].Data.pbBuffer, n);
                    r->length += n;
                    r->done =
                        type != WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE && type != WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE;
                }
            }
            WebSocketCompleteAction(h, ctx, 0);
            /* The next piece needs another receive. */
            if (app == want && !r->done)
                CHECK_HR(WebSocketReceive(h, NULL, want), S_OK);
            break;
        case WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION:
            if (app == want)
                r->done = 1;
            WebSocketCompleteAction(h, ctx, 0);
            break;
        }
    }
}

static int tags[4];
#define SENT ((PVOID)&tags[0])
#define RECEIVED ((PVOID)&tags[1])

/* Sends a message and checks the echo. */
static void echo(WEB_SOCKET_BUFFER_TYPE type, const unsigned char *bytes, size_t n, const char *what) {
    static unsigned char back[200 * 1024];
    WEB_SOCKET_BUFFER b = {.Data = {(PBYTE)bytes, (ULONG)n}};
    CHECK_HR(WebSocketSend(h, type, &b, SENT), S_OK);
    struct result sent = {0};
    run(&sent, SENT);
    CHECK_HR(WebSocketReceive(h, NULL, RECEIVED), S_OK);
    struct result got = {.data = back, .room = sizeof back};
    run(&got, RECEIVED);
    CHECK(got.type == type, "%s: echoed as type 0x%08X", what, (unsigned)got.type);
    CHECK(got.length == n && memcmp(back, bytes, n) == 0, "%s: %zu bytes echoed intact", what, n);
    printf("ok  %s: %zu bytes echoed in %d piece%s\n", what, n, got.pieces, got.pieces == 1 ? "" : "s");
}

int main(int argc, char **argv) {
    CHECK(argc == 4, "usage: tcp_client HOST PORT PATH");
    connect_to(argv[1], argv[2]);
    handshake(argv[1], argv[2], argv[3]);
    printf("ok  handshake with %s:%s%s\n", argv[1], argv[2], argv[3]);

    const char *text = "Hello from C, caf\xC3\xA9 \xE2\x82\xAC";
    echo(WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, (const unsigned char *)text, strlen(text), "text");
    unsigned char bytes[256];
    for (int i = 0; i < 256; i++)
        bytes[i] = (unsigned char)i;
    echo(WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, bytes, sizeof bytes, "binary");
    static unsigned char big[100 * 1024];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 10));
    echo(WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, big, sizeof big, "100 KiB binary");
    echo(WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, (const unsigned char *)"", 0, "empty text");

    /* A ping: the server's pong comes back as PING_PONG. */
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, SENT), S_OK);
    struct result sent = {0};
    run(&sent, SENT);
    CHECK_HR(WebSocketReceive(h, NULL, RECEIVED), S_OK);
    unsigned char none[1];
    struct result pong = {.data = none, .room = 0};
    run(&pong, RECEIVED);
    CHECK(pong.type == WEB_SOCKET_PING_PONG_BUFFER_TYPE && pong.length == 0, "the pong (type 0x%08X)",
          (unsigned)pong.type);
    printf("ok  ping answered\n");

    /* The close handshake: ours, then the server's. */
    WEB_SOCKET_BUFFER close_buffer = {.CloseStatus = {(PBYTE) "done", 4, WEB_SOCKET_SUCCESS_CLOSE_STATUS}};
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_CLOSE_BUFFER_TYPE, &close_buffer, SENT), S_OK);
    struct result closed = {0};
    run(&closed, SENT);
    WEB_SOCKET_BUFFER late = {.Data = {(PBYTE) "late", 4}};
    CHECK_HR(WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, &late, NULL), WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketReceive(h, NULL, RECEIVED), S_OK);
    struct result answer = {.data = none, .room = 0};
    run(&answer, RECEIVED);
    CHECK(answer.type == WEB_SOCKET_CLOSE_BUFFER_TYPE, "the server's close (type 0x%08X)", (unsigned)answer.type);
    CHECK(answer.status == 1000, "the server's close status is 1000 (%u)", (unsigned)answer.status);
    char rest[16];
    CHECK(read_some(rest, sizeof rest) == 0, "the server ends the TCP connection after the close handshake");
    printf("ok  closed cleanly (1000)\n");

    WebSocketDeleteHandle(h);
    close(fd);
    printf("# pass %d\n", checks_passed);
    return 0;
}
