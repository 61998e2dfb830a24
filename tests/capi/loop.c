/*
 * loop.c: a client handle and a server handle of libwebsocket talking in
 * memory, through websocket.h only. The program carries the bytes between
 * them and the header lists across the handshake (no HTTP text at all), and
 * runs websocket.dll's canonical loop: GetAction, do it, CompleteAction.
 *
 * Checks the handshake's outputs, text and binary messages, a message
 * larger than the receive buffer arriving in pieces, a fragmented send,
 * ping and pong, the close handshake, AbortHandle, a peer breaking the
 * protocol, the allocated buffer, the global properties and the error
 * codes of bad calls. Prints "# pass N" at the end; any failed check exits
 * non-zero saying what failed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

/* The layouts the library's Rust side assumes (capi/src/tests.rs). */
_Static_assert(sizeof(WEB_SOCKET_BUFFER_TYPE) == 4, "enums are ULONG-sized");
_Static_assert(sizeof(WEB_SOCKET_ACTION) == 4, "enums are ULONG-sized");
_Static_assert(sizeof(ULONG) == 4, "ULONG is 32 bits");
#define PAIR ((sizeof(void *) + 4 + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *))
_Static_assert(sizeof(WEB_SOCKET_HTTP_HEADER) == 2 * PAIR, "pointer, ULONG, pointer, ULONG");
_Static_assert(sizeof(WEB_SOCKET_PROPERTY) == sizeof(void *) + PAIR, "enum, pointer, ULONG");
_Static_assert(offsetof(WEB_SOCKET_BUFFER, CloseStatus.usStatus) == sizeof(void *) + 4, "usStatus follows the length");

#define LEN(a) ((ULONG)(sizeof(a) / sizeof((a)[0])))

/* ----- bytes in flight ----------------------------------------------------- */

/* The bytes one side has written and the other not yet read. */
struct pipe {
    unsigned char *data;
    size_t start, end, cap;
};

static void pipe_write(struct pipe *p, const void *bytes, size_t n) {
    if (p->end + n > p->cap) {
        p->cap = (p->end + n) * 2;
        p->data = realloc(p->data, p->cap);
        CHECK(p->data != NULL, "out of memory");
    }
    memcpy(p->data + p->end, bytes, n);
    p->end += n;
}

static size_t pipe_available(const struct pipe *p) { return p->end - p->start; }

static size_t pipe_read(struct pipe *p, void *into, size_t room) {
    size_t n = pipe_available(p) < room ? pipe_available(p) : room;
    memcpy(into, p->data + p->start, n);
    p->start += n;
    if (p->start == p->end)
        p->start = p->end = 0;
    return n;
}

/* ----- a peer and its action loop ------------------------------------------ */

/* One action GetAction handed out, as the loop saw it. */
struct event {
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID context; /* the application's */
    ULONG count;   /* buffers */
    PBYTE pointer; /* the buffer's (or the reason's) address */
    unsigned char *data;
    ULONG length;
    USHORT status; /* a close's */
};

struct peer {
    const char *name;
    WEB_SOCKET_HANDLE h;
    struct pipe *in, *out;
    /* A RECEIVE_FROM_NETWORK waiting for bytes. */
    int reading;
    PVOID read_action;
    PBYTE read_buffer;
    ULONG read_room;
    PBYTE last_read_buffer;
    /* Every action handed out, in order. */
    struct event *log;
    int nlog, caplog;
    /* The last failure of GetAction. */
    HRESULT failure;
};

static void record(struct peer *p, struct event e, const void *bytes) {
    if (p->nlog == p->caplog) {
        p->caplog = p->caplog ? p->caplog * 2 : 64;
        p->log = realloc(p->log, (size_t)p->caplog * sizeof *p->log);
        CHECK(p->log != NULL, "out of memory");
    }
    e.data = malloc(e.length + 1);
    CHECK(e.data != NULL, "out of memory");
    if (e.length)
        memcpy(e.data, bytes, e.length);
    p->log[p->nlog++] = e;
}

static void forget(struct peer *p) {
    for (int i = 0; i < p->nlog; i++)
        free(p->log[i].data);
    p->nlog = 0;
    p->failure = S_OK;
}

/* Completes a waiting RECEIVE_FROM_NETWORK if bytes came. */
static int feed(struct peer *p) {
    if (!p->reading || pipe_available(p->in) == 0)
        return 0;
    size_t n = pipe_read(p->in, p->read_buffer, p->read_room);
    p->reading = 0;
    WebSocketCompleteAction(p->h, p->read_action, (ULONG)n);
    return 1;
}

/* One GetAction on `queue`, carried out and completed. Returns whether
 * anything happened. */
static int step(struct peer *p, WEB_SOCKET_ACTION_QUEUE queue) {
    int progress = feed(p);
    WEB_SOCKET_BUFFER buffers[2];
    ULONG count = LEN(buffers);
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID app = (PVOID)&count; /* must be overwritten */
    PVOID ctx;
    HRESULT hr = WebSocketGetAction(p->h, queue, buffers, &count, &action, &type, &app, &ctx);
    if (FAILED(hr)) {
        CHECK(action == WEB_SOCKET_NO_ACTION && count == 0, "%s: a failed GetAction leaves no action", p->name);
        p->failure = hr;
        return progress;
    }
    CHECK(count <= 1, "%s: %u buffers", p->name, (unsigned)count);
    struct event e = {action, type, app, count, NULL, NULL, 0, 0};
    switch (action) {
    case WEB_SOCKET_NO_ACTION:
        CHECK(ctx == NULL && app == NULL && count == 0 && type == 0, "%s: NO_ACTION has nothing", p->name);
        return progress;
    case WEB_SOCKET_SEND_TO_NETWORK_ACTION: {
        CHECK(count == 1, "%s: SEND_TO_NETWORK has a buffer", p->name);
        e.pointer = buffers[0].Data.pbBuffer;
        e.length = buffers[0].Data.ulBufferLength;
        pipe_write(p->out, e.pointer, e.length);
        record(p, e, e.pointer);
        WebSocketCompleteAction(p->h, ctx, e.length);
        return 1;
    }
    case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION:
        CHECK(count == 1 && buffers[0].Data.ulBufferLength > 0, "%s: RECEIVE_FROM_NETWORK has a buffer", p->name);
        CHECK(type == 0, "%s: RECEIVE_FROM_NETWORK has no buffer type", p->name);
        record(p, e, NULL);
        p->reading = 1;
        p->read_action = ctx;
        p->read_buffer = p->last_read_buffer = buffers[0].Data.pbBuffer;
        p->read_room = buffers[0].Data.ulBufferLength;
        feed(p);
        return 1;
    case WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION:
        if (count == 1 && type == WEB_SOCKET_CLOSE_BUFFER_TYPE) {
            e.pointer = buffers[0].CloseStatus.pbReason;
            e.length = buffers[0].CloseStatus.ulReasonLength;
            e.status = buffers[0].CloseStatus.usStatus;
            CHECK((e.pointer == NULL) == (e.length == 0), "%s: pbReason is NULL exactly when the reason is empty",
                  p->name);
        } else if (count == 1) {
            e.pointer = buffers[0].Data.pbBuffer;
            e.length = buffers[0].Data.ulBufferLength;
        }
        record(p, e, e.pointer);
        WebSocketCompleteAction(p->h, ctx, 0);
        return 1;
    case WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION:
        record(p, e, NULL);
        WebSocketCompleteAction(p->h, ctx, 0);
        return 1;
    }
    CHECK(0, "%s: unknown action %d", p->name, (int)action);
    return 0;
}

/* Runs both loops until neither has anything to do. */
static void settle(struct peer *a, struct peer *b) {
    for (int i = 0; i < 100000; i++) {
        int progress = step(a, WEB_SOCKET_ALL_ACTION_QUEUE);
        progress |= step(b, WEB_SOCKET_ALL_ACTION_QUEUE);
        if (!progress)
            return;
    }
    CHECK(0, "the loops never settle");
}

/* The first logged action of `kind` with application context `ctx`, from
 * index *from on (which moves past it). */
static struct event *find(struct peer *p, WEB_SOCKET_ACTION kind, PVOID ctx, int *from) {
    for (int i = from ? *from : 0; i < p->nlog; i++) {
        if (p->log[i].action == kind && p->log[i].context == ctx) {
            if (from)
                *from = i + 1;
            return &p->log[i];
        }
    }
    return NULL;
}

/* The pieces received for application context `ctx`, joined, until a
 * *_MESSAGE piece; `pieces` counts them. */
static size_t
message(struct peer *p, PVOID ctx, unsigned char *out, size_t room, int *pieces, WEB_SOCKET_BUFFER_TYPE *last) {
    size_t n = 0;
    *pieces = 0;
    for (int i = 0; i < p->nlog; i++) {
        struct event *e = &p->log[i];
        if (e->action != WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION || e->context != ctx)
            continue;
        CHECK(n + e->length <= room, "%s: message longer than expected", p->name);
        memcpy(out + n, e->data, e->length);
        n += e->length;
        ++*pieces;
        *last = e->type;
        if (e->type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE || e->type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
            break;
    }
    return n;
}

/* ----- handles and handshakes ---------------------------------------------- */

static struct pipe c2s, s2c;
static struct peer client = {.name = "client", .in = &s2c, .out = &c2s};
static struct peer server = {.name = "server", .in = &c2s, .out = &s2c};

static WEB_SOCKET_HTTP_HEADER header(const char *name, const char *value) {
    WEB_SOCKET_HTTP_HEADER h = {(PCHAR)name, (ULONG)strlen(name), (PCHAR)value, (ULONG)strlen(value)};
    return h;
}

static int same_name(const WEB_SOCKET_HTTP_HEADER *h, const char *name) {
    if (h->ulNameLength != strlen(name))
        return 0;
    for (ULONG i = 0; i < h->ulNameLength; i++) {
        char a = h->pcName[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* The value of header `name` in a list, NUL-terminated (static storage). */
static const char *value_of(const WEB_SOCKET_HTTP_HEADER *list, ULONG n, const char *name) {
    static char value[256];
    for (ULONG i = 0; i < n; i++) {
        if (same_name(&list[i], name)) {
            CHECK(list[i].ulValueLength < sizeof value, "header %s too long", name);
            memcpy(value, list[i].pcValue, list[i].ulValueLength);
            value[list[i].ulValueLength] = 0;
            return value;
        }
    }
    return NULL;
}

/* The request's headers: the initial ones, less those the additional ones
 * replace, then the additional ones. */
static ULONG request_headers(const WEB_SOCKET_HTTP_HEADER *initial,
                             ULONG ninitial,
                             const WEB_SOCKET_HTTP_HEADER *additional,
                             ULONG nadditional,
                             WEB_SOCKET_HTTP_HEADER *out,
                             ULONG room) {
    ULONG n = 0;
    for (ULONG i = 0; i < ninitial; i++) {
        int replaced = 0;
        for (ULONG j = 0; j < nadditional; j++) {
            char name[64];
            CHECK(additional[j].ulNameLength < sizeof name, "header name too long");
            memcpy(name, additional[j].pcName, additional[j].ulNameLength);
            name[additional[j].ulNameLength] = 0;
            replaced |= same_name(&initial[i], name);
        }
        if (!replaced) {
            CHECK(n < room, "too many headers");
            out[n++] = initial[i];
        }
    }
    for (ULONG j = 0; j < nadditional; j++) {
        CHECK(n < room, "too many headers");
        out[n++] = additional[j];
    }
    return n;
}

static void reset(void) {
    forget(&client);
    forget(&server);
    client.reading = server.reading = 0;
    c2s.start = c2s.end = s2c.start = s2c.end = 0;
}

/* A client and a server handle with these properties, handshake done, no
 * subprotocol or extension. */
static void open_pair(const PWEB_SOCKET_PROPERTY cprops, ULONG nc, const PWEB_SOCKET_PROPERTY sprops, ULONG ns) {
    reset();
    CHECK_HR(WebSocketCreateClientHandle(cprops, nc, &client.h), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(sprops, ns, &server.h), S_OK);
    WEB_SOCKET_HTTP_HEADER initial[] = {header("Host", "example.com")};
    PWEB_SOCKET_HTTP_HEADER additional, response;
    ULONG nadditional, nresponse;
    CHECK_HR(
        WebSocketBeginClientHandshake(client.h, NULL, 0, NULL, 0, initial, LEN(initial), &additional, &nadditional),
        S_OK);
    WEB_SOCKET_HTTP_HEADER request[16];
    ULONG nrequest = request_headers(initial, LEN(initial), additional, nadditional, request, LEN(request));
    CHECK_HR(WebSocketBeginServerHandshake(server.h, NULL, NULL, 0, request, nrequest, &response, &nresponse), S_OK);
    CHECK_HR(WebSocketEndClientHandshake(client.h, response, nresponse, NULL, NULL, NULL), S_OK);
    CHECK_HR(WebSocketEndServerHandshake(server.h), S_OK);
}

static void close_pair(void) {
    WebSocketDeleteHandle(client.h);
    WebSocketDeleteHandle(server.h);
    client.h = server.h = NULL;
}

static HRESULT send_data(struct peer *p, WEB_SOCKET_BUFFER_TYPE type, const void *bytes, size_t n, PVOID ctx) {
    WEB_SOCKET_BUFFER b;
    b.Data.pbBuffer = (PBYTE)bytes;
    b.Data.ulBufferLength = (ULONG)n;
    return WebSocketSend(p->h, type, &b, ctx);
}

static HRESULT send_close(struct peer *p, USHORT status, const char *reason, PVOID ctx) {
    WEB_SOCKET_BUFFER b;
    b.CloseStatus.pbReason = reason ? (PBYTE)reason : NULL;
    b.CloseStatus.ulReasonLength = reason ? (ULONG)strlen(reason) : 0;
    b.CloseStatus.usStatus = status;
    return WebSocketSend(p->h, WEB_SOCKET_CLOSE_BUFFER_TYPE, &b, ctx);
}

/* Application contexts: any pointer the program likes. */
static int tag[32];
#define CTX(i) ((PVOID)&tag[i])

/* ----- the checks ---------------------------------------------------------- */

static void global_properties(void) {
    ULONG value = 0, size = sizeof value;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, &size), S_OK);
    CHECK(value == 30000 && size == 4, "keep-alive %u, size %u", (unsigned)value, (unsigned)size);

    ULONG versions[4] = {0};
    size = sizeof versions;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, versions, &size), S_OK);
    CHECK(size == 4 && versions[0] == 13, "versions: size %u, first %u", (unsigned)size, (unsigned)versions[0]);

    size = 2;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, &size),
             WS_E_NUMERIC_OVERFLOW);
    CHECK(size == 4, "the size needed is reported: %u", (unsigned)size);
    size = 0;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, NULL, &size),
             WS_E_NUMERIC_OVERFLOW);
    CHECK(size == 4, "the size needed is reported: %u", (unsigned)size);

    size = sizeof value;
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &value, &size), E_INVALIDARG);
    CHECK_HR(WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &value, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketGetGlobalProperty((WEB_SOCKET_PROPERTY_TYPE)99, &value, &size), E_INVALIDARG);
}

static void bad_properties(void) {
    WEB_SOCKET_HANDLE h = (WEB_SOCKET_HANDLE)&tag[0];
    ULONG small = 255, big = 4096, keepalive = 30000;
    BOOL yes = TRUE;
    USHORT short_value = 4096;

    WEB_SOCKET_PROPERTY receive255[] = {{WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &small, sizeof small}};
    CHECK_HR(WebSocketCreateClientHandle(receive255, 1, &h), E_INVALIDARG);
    CHECK(h == NULL, "a failed create sets the handle to NULL");
    CHECK_HR(WebSocketCreateServerHandle(receive255, 1, &h), E_INVALIDARG);

    WEB_SOCKET_PROPERTY keep[] = {{WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, &keepalive, sizeof keepalive}};
    CHECK_HR(WebSocketCreateClientHandle(keep, 1, &h), E_INVALIDARG);
    WEB_SOCKET_PROPERTY versions[] = {{WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, &keepalive, sizeof keepalive}};
    CHECK_HR(WebSocketCreateServerHandle(versions, 1, &h), E_INVALIDARG);

    WEB_SOCKET_PROPERTY wrong_size[] = {
        {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &short_value, sizeof short_value}};
    CHECK_HR(WebSocketCreateClientHandle(wrong_size, 1, &h), E_INVALIDARG);
    WEB_SOCKET_PROPERTY null_value[] = {{WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, NULL, sizeof(BOOL)}};
    CHECK_HR(WebSocketCreateClientHandle(null_value, 1, &h), E_INVALIDARG);
    WEB_SOCKET_PROPERTY unknown[] = {{(WEB_SOCKET_PROPERTY_TYPE)42, &yes, sizeof yes}};
    CHECK_HR(WebSocketCreateClientHandle(unknown, 1, &h), E_INVALIDARG);

    CHECK_HR(WebSocketCreateClientHandle(NULL, 1, &h), E_INVALIDARG);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, NULL), E_INVALIDARG);

    /* The allocated buffer: 8-byte aligned, larger than receive + send + 256. */
    static uint64_t memory[2048]; /* 16 KiB, aligned */
    ULONG least = 4096 + 4096 + 256;
    WEB_SOCKET_PROPERTY misaligned[] = {
        {WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, (unsigned char *)memory + 4, least + 64}};
    CHECK_HR(WebSocketCreateClientHandle(misaligned, 1, &h), E_INVALIDARG);
    WEB_SOCKET_PROPERTY exact[] = {{WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, memory, least}};
    CHECK_HR(WebSocketCreateClientHandle(exact, 1, &h), E_INVALIDARG);
    WEB_SOCKET_PROPERTY with_sizes[] = {
        {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &big, sizeof big},
        {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &big, sizeof big},
        {WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, memory, least + 8},
    };
    CHECK_HR(WebSocketCreateClientHandle(with_sizes, LEN(with_sizes), &h), S_OK);
    CHECK(h != NULL, "a handle");
    WebSocketDeleteHandle(h);

    /* The server's send buffer may be as small as its default, 16; a client's not. */
    ULONG sixteen = 16;
    WEB_SOCKET_PROPERTY send16[] = {{WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &sixteen, sizeof sixteen}};
    CHECK_HR(WebSocketCreateServerHandle(send16, 1, &h), S_OK);
    WebSocketDeleteHandle(h);
    CHECK_HR(WebSocketCreateClientHandle(send16, 1, &h), E_INVALIDARG);

    WEB_SOCKET_PROPERTY flags[] = {
        {WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, &yes, sizeof yes},
        {WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE, &yes, sizeof yes},
    };
    CHECK_HR(WebSocketCreateServerHandle(flags, LEN(flags), &h), S_OK);
    WebSocketDeleteHandle(h);
}

static void null_handles(void) {
    WEB_SOCKET_BUFFER b;
    ULONG count = 1;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID ctx;
    CHECK_HR(WebSocketSend(NULL, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketReceive(NULL, NULL, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(NULL, WEB_SOCKET_ALL_ACTION_QUEUE, &b, &count, &action, &type, NULL, &ctx),
             E_INVALIDARG);
    CHECK_HR(WebSocketEndServerHandshake(NULL), E_INVALIDARG);
    WebSocketCompleteAction(NULL, NULL, 0);
    WebSocketAbortHandle(NULL);
    WebSocketDeleteHandle(NULL);
}

static void handshake(void) {
    reset();
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client.h), S_OK);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &server.h), S_OK);

    /* Before a handshake, no data. */
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "x", 1, NULL), WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketReceive(server.h, NULL, NULL), WS_E_INVALID_OPERATION);

    PCSTR subprotocols[] = {"chat", "superchat"};
    PCSTR extensions[] = {"x-first", "x-second; level=2"};
    PWEB_SOCKET_HTTP_HEADER additional, response;
    ULONG nadditional, nresponse;

    /* No Host among the initial headers. */
    WEB_SOCKET_HTTP_HEADER no_host[] = {header("User-Agent", "loop.c")};
    CHECK_HR(
        WebSocketBeginClientHandshake(client.h, subprotocols, 2, extensions, 2, no_host, 1, &additional, &nadditional),
        E_INVALIDARG);
    CHECK_HR(
        WebSocketBeginClientHandshake(client.h, subprotocols, 2, extensions, 2, NULL, 0, &additional, &nadditional),
        E_INVALIDARG);
    CHECK_HR(WebSocketBeginClientHandshake(client.h, NULL, 2, NULL, 0, no_host, 1, &additional, &nadditional),
             E_INVALIDARG);

    WEB_SOCKET_HTTP_HEADER bad_value[] = {header("Host", "example.com"), header("X-Bad", "a\r\nb")};
    CHECK_HR(WebSocketBeginClientHandshake(client.h, NULL, 0, NULL, 0, bad_value, 2, &additional, &nadditional),
             WS_E_INVALID_FORMAT);
    PCSTR bad_subprotocol[] = {"two words"};
    WEB_SOCKET_HTTP_HEADER initial[] = {header("Host", "example.com:8080"), header("Origin", "http://example.com"),
                                        header("Sec-WebSocket-Version", "12")};
    CHECK_HR(WebSocketBeginClientHandshake(client.h, bad_subprotocol, 1, NULL, 0, initial, LEN(initial), &additional,
                                           &nadditional),
             WS_E_INVALID_FORMAT);

    CHECK_HR(WebSocketBeginClientHandshake(client.h, subprotocols, 2, extensions, 2, initial, LEN(initial), &additional,
                                           &nadditional),
             S_OK);
    CHECK(nadditional == 6, "%u additional headers", (unsigned)nadditional);
    CHECK(value_of(additional, nadditional, "Upgrade") &&
              strcmp(value_of(additional, nadditional, "Upgrade"), "websocket") == 0,
          "Upgrade: websocket");
    CHECK(strcmp(value_of(additional, nadditional, "Sec-WebSocket-Version"), "13") == 0, "version 13");
    CHECK(strcmp(value_of(additional, nadditional, "Sec-WebSocket-Protocol"), "chat, superchat") == 0,
          "the subprotocols offered");
    CHECK(strcmp(value_of(additional, nadditional, "Sec-WebSocket-Extensions"), "x-first, x-second; level=2") == 0,
          "the extensions offered");
    CHECK(strlen(value_of(additional, nadditional, "Sec-WebSocket-Key")) == 24, "a 16-byte key, in base64");
    CHECK_HR(
        WebSocketBeginClientHandshake(client.h, NULL, 0, NULL, 0, initial, LEN(initial), &additional, &nadditional),
        WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketBeginClientHandshake(client.h, subprotocols, 2, extensions, 2, initial, LEN(initial), &additional,
                                           &nadditional),
             WS_E_INVALID_OPERATION);
    /* The failed calls above freed the headers: begin again on a new handle. */
    WebSocketDeleteHandle(client.h);
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &client.h), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(client.h, subprotocols, 2, extensions, 2, initial, LEN(initial), &additional,
                                           &nadditional),
             S_OK);

    /* The request as the server reads it: the client's version 12 is replaced. */
    WEB_SOCKET_HTTP_HEADER request[16];
    ULONG nrequest = request_headers(initial, LEN(initial), additional, nadditional, request, LEN(request));
    CHECK(nrequest == 8, "%u request headers", (unsigned)nrequest);
    CHECK(strcmp(value_of(request, nrequest, "Sec-WebSocket-Version"), "13") == 0, "version 13 replaces 12");

    /* The server selects what was not offered. */
    PCSTR chosen_extension[] = {"x-second; level=2"};
    PCSTR unoffered_extension[] = {"x-third"};
    CHECK_HR(WebSocketBeginServerHandshake(server.h, "other", NULL, 0, request, nrequest, &response, &nresponse),
             E_SUBPROTOCOL_NOT_SUPPORTED);
    CHECK_HR(
        WebSocketBeginServerHandshake(server.h, NULL, unoffered_extension, 1, request, nrequest, &response, &nresponse),
        E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED);
    CHECK_HR(
        WebSocketBeginServerHandshake(server.h, "superchat", chosen_extension, 1, request, nrequest, NULL, &nresponse),
        E_INVALIDARG);
    CHECK_HR(WebSocketBeginServerHandshake(server.h, "superchat", chosen_extension, 1, request, nrequest, &response,
                                           &nresponse),
             S_OK);
    CHECK(nresponse == 5, "%u response headers", (unsigned)nresponse);
    CHECK(strcmp(value_of(response, nresponse, "Sec-WebSocket-Protocol"), "superchat") == 0, "the chosen subprotocol");
    CHECK(strcmp(value_of(response, nresponse, "Sec-WebSocket-Extensions"), "x-second; level=2") == 0,
          "the chosen extension");
    CHECK(strlen(value_of(response, nresponse, "Sec-WebSocket-Accept")) == 28, "an accept key");

    /* The client's answer array must hold as many as it offered. */
    ULONG selected[4] = {99, 99, 99, 99}, nselected = 1, subprotocol = 99;
    CHECK_HR(WebSocketEndClientHandshake(client.h, response, nresponse, selected, &nselected, &subprotocol),
             WS_E_NUMERIC_OVERFLOW);
    CHECK(nselected == 2 && selected[0] == 99 && subprotocol == 99, "the count needed (%u), nothing else",
          (unsigned)nselected);
    CHECK_HR(WebSocketEndClientHandshake(client.h, response, nresponse, NULL, &nselected, &subprotocol), E_INVALIDARG);

    /* A wrong accept key fails, and leaves the handle for deleting only. */
    WEB_SOCKET_HTTP_HEADER forged[8];
    for (ULONG i = 0; i < nresponse; i++)
        forged[i] = response[i];
    for (ULONG i = 0; i < nresponse; i++)
        if (same_name(&forged[i], "Sec-WebSocket-Accept"))
            forged[i] = header("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    WEB_SOCKET_HANDLE other;
    PWEB_SOCKET_HTTP_HEADER other_additional;
    ULONG nother;
    CHECK_HR(WebSocketCreateClientHandle(NULL, 0, &other), S_OK);
    CHECK_HR(WebSocketBeginClientHandshake(other, subprotocols, 2, extensions, 2, initial, LEN(initial),
                                           &other_additional, &nother),
             S_OK);
    nselected = 2;
    CHECK_HR(WebSocketEndClientHandshake(other, forged, nresponse, selected, &nselected, &subprotocol),
             E_INVALID_PROTOCOL_FORMAT);
    CHECK_HR(WebSocketEndClientHandshake(other, response, nresponse, selected, &nselected, &subprotocol),
             WS_E_INVALID_OPERATION);
    WebSocketDeleteHandle(other);

    nselected = LEN(selected);
    CHECK_HR(WebSocketEndClientHandshake(client.h, response, nresponse, selected, &nselected, &subprotocol), S_OK);
    CHECK(nselected == 1 && selected[0] == 1, "extension #1 selected (%u: %u)", (unsigned)nselected,
          (unsigned)selected[0]);
    CHECK(subprotocol == 1, "subprotocol #1 selected (%u)", (unsigned)subprotocol);
    CHECK_HR(WebSocketEndClientHandshake(client.h, response, nresponse, selected, &nselected, &subprotocol),
             WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketEndServerHandshake(client.h), WS_E_INVALID_OPERATION);

    /* A server handle's request checks. */
    WEB_SOCKET_HANDLE s2;
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s2), S_OK);
    WEB_SOCKET_HTTP_HEADER no_key[] = {header("Host", "h"), header("Upgrade", "websocket"),
                                       header("Connection", "Upgrade"), header("Sec-WebSocket-Version", "13")};
    CHECK_HR(WebSocketBeginServerHandshake(s2, NULL, NULL, 0, no_key, LEN(no_key), &response, &nresponse),
             E_INVALID_PROTOCOL_FORMAT);
    WebSocketDeleteHandle(s2);
    CHECK_HR(WebSocketCreateServerHandle(NULL, 0, &s2), S_OK);
    WEB_SOCKET_HTTP_HEADER version8[] = {header("Host", "h"), header("Upgrade", "websocket"),
                                         header("Connection", "Upgrade"), header("Sec-WebSocket-Version", "8"),
                                         header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")};
    CHECK_HR(WebSocketBeginServerHandshake(s2, NULL, NULL, 0, version8, LEN(version8), &response, &nresponse),
             E_PROTOCOL_VERSION_NOT_SUPPORTED);
    WebSocketDeleteHandle(s2);

    /* The data stream flows (the server never called EndServerHandshake). */
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "hi", 2, CTX(1)), S_OK);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(2)), S_OK);
    settle(&client, &server);
    struct event *e = find(&server, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(2), NULL);
    CHECK(e && e->type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && e->length == 2 && memcmp(e->data, "hi", 2) == 0,
          "\"hi\" arrives");
    close_pair();
}

static void messages(void) {
    open_pair(NULL, 0, NULL, 0);

    /* Text, client to server, into the server's internal buffer. */
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "hello", 5, CTX(1)), S_OK);
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "again", 5, CTX(2)), WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(3)), S_OK);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(4)), WS_E_INVALID_OPERATION);
    settle(&client, &server);
    int at = 0;
    struct event *sent = find(&client, WEB_SOCKET_SEND_TO_NETWORK_ACTION, CTX(1), &at);
    CHECK(sent && sent->type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && sent->length == 2 + 4 + 5,
          "one masked frame to send");
    CHECK(find(&client, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(1), &at),
          "the send is indicated complete after it");
    struct event *got = find(&server, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(3), NULL);
    CHECK(got && got->type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && got->length == 5 &&
              memcmp(got->data, "hello", 5) == 0,
          "\"hello\" arrives");
    CHECK(find(&server, WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION, CTX(3), NULL),
          "the server read from the network for it");

    /* Binary, server to client, into the client's own buffer. */
    unsigned char bytes[300], mine[512];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 7);
    WEB_SOCKET_BUFFER into = {.Data = {mine, sizeof mine}};
    CHECK_HR(WebSocketReceive(client.h, &into, CTX(5)), S_OK);
    CHECK_HR(send_data(&server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, bytes, sizeof bytes, CTX(6)), S_OK);
    settle(&client, &server);
    sent = find(&server, WEB_SOCKET_SEND_TO_NETWORK_ACTION, CTX(6), NULL);
    CHECK(sent && sent->length == 4 + sizeof bytes, "one unmasked frame");
    got = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(5), NULL);
    CHECK(got && got->type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE && got->length == sizeof bytes,
          "the binary message arrives whole");
    CHECK(got->pointer == mine && memcmp(mine, bytes, sizeof bytes) == 0, "in the application's own buffer");

    /* The application's buffer bounds each piece. */
    unsigned char tiny[100];
    WEB_SOCKET_BUFFER small = {.Data = {tiny, sizeof tiny}};
    CHECK_HR(send_data(&server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, bytes, 250, CTX(7)), S_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_HR(WebSocketReceive(client.h, &small, CTX(8 + i)), S_OK);
        settle(&client, &server);
        got = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(8 + i), NULL);
        ULONG want = i < 2 ? 100 : 50;
        WEB_SOCKET_BUFFER_TYPE type =
            i < 2 ? WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE : WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE;
        CHECK(got && got->length == want && got->type == type && got->pointer == tiny, "piece %d: %u bytes", i,
              got ? (unsigned)got->length : 0);
        CHECK(memcmp(got->data, bytes + 100 * i, want) == 0, "piece %d's bytes", i);
    }
    WEB_SOCKET_BUFFER empty = {.Data = {tiny, 0}};
    CHECK_HR(WebSocketReceive(client.h, &empty, NULL), E_INVALIDARG);
    WEB_SOCKET_BUFFER nowhere = {.Data = {NULL, 10}};
    CHECK_HR(WebSocketReceive(client.h, &nowhere, NULL), E_INVALIDARG);

    /* An empty message. */
    CHECK_HR(send_data(&client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, NULL, 0, CTX(11)), S_OK);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(12)), S_OK);
    settle(&client, &server);
    got = find(&server, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(12), NULL);
    CHECK(got && got->type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE && got->length == 0 && got->count == 1,
          "an empty message");

    /* Bad sends. */
    CHECK_HR(send_data(&client, (WEB_SOCKET_BUFFER_TYPE)0x80000007, "x", 1, NULL), E_INVALIDARG);
    CHECK_HR(WebSocketSend(client.h, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, NULL, NULL), E_INVALIDARG);
    CHECK_HR(send_data(&client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, NULL, 5, NULL), E_INVALIDARG);
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "\xff", 1, NULL), WS_E_INVALID_FORMAT);
    char reason[WEB_SOCKET_MAX_CLOSE_REASON_LENGTH + 2];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    CHECK_HR(send_close(&client, 1000, reason, NULL), E_INVALIDARG);
    CHECK_HR(send_close(&client, 999, NULL, NULL), E_INVALIDARG);
    close_pair();
}

static void large_and_fragmented(void) {
    ULONG receive = 1024;
    WEB_SOCKET_PROPERTY props[] = {{WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &receive, sizeof receive}};
    open_pair(NULL, 0, props, 1);

    /* 10,000 bytes of text (the 3-byte euro sign), through a 1024-byte buffer. */
    static unsigned char text[3 * 3334], joined[sizeof text];
    for (size_t i = 0; i < sizeof text; i += 3)
        memcpy(text + i, "\xE2\x82\xAC", 3);
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, text, sizeof text, CTX(1)), S_OK);
    int pieces = 0;
    WEB_SOCKET_BUFFER_TYPE last = 0;
    for (int i = 0; i < 64; i++) {
        CHECK_HR(WebSocketReceive(server.h, NULL, CTX(2)), S_OK);
        settle(&client, &server);
        struct event *e = &server.log[server.nlog - 1];
        CHECK(e->action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, "a piece");
        CHECK(e->length <= receive && e->length % 3 == 0, "piece of %u bytes, whole characters", (unsigned)e->length);
        if (e->type != WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE)
            break;
    }
    size_t n = message(&server, CTX(2), joined, sizeof joined, &pieces, &last);
    CHECK(n == sizeof text && memcmp(joined, text, n) == 0, "the text arrives whole (%zu bytes)", n);
    CHECK(last == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE && pieces >= 10, "%d pieces: UTF8_FRAGMENTs then UTF8_MESSAGE",
          pieces);
    for (int i = 0; i < server.nlog; i++) {
        struct event *e = &server.log[i];
        if (e->action == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION)
            CHECK(e->context == CTX(2), "read for the receive");
    }
    forget(&server);

    /* A fragmented send: each fragment is indicated complete before the next is queued. */
    const char *parts[] = {"Hel", "lo, ", "world"};
    WEB_SOCKET_BUFFER_TYPE types[] = {WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE,
                                      WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE};
    for (int i = 0; i < 3; i++) {
        CHECK_HR(send_data(&client, types[i], parts[i], strlen(parts[i]), CTX(3 + i)), S_OK);
        if (i == 0) {
            /* One send at a time; and no binary in the middle of text. */
            CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE, "x", 1, NULL), WS_E_INVALID_OPERATION);
        }
        settle(&client, &server);
        CHECK(find(&client, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(3 + i), NULL), "fragment %d sent", i);
        if (i == 0)
            CHECK_HR(send_data(&client, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, "x", 1, NULL), WS_E_INVALID_OPERATION);
    }
    char whole[64] = {0};
    for (int i = 0; i < 8; i++) {
        CHECK_HR(WebSocketReceive(server.h, NULL, CTX(8)), S_OK);
        settle(&client, &server);
        if (server.log[server.nlog - 1].type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE)
            break;
    }
    pieces = 0;
    n = 0;
    for (int i = 0; i < server.nlog; i++) {
        struct event *e = &server.log[i];
        if (e->action != WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION)
            continue;
        CHECK(e->type == WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE || e->type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE,
              "text pieces");
        memcpy(whole + n, e->data, e->length);
        n += e->length;
        pieces++;
    }
    CHECK(strcmp(whole, "Hello, world") == 0, "the fragments join into \"%s\"", whole);
    CHECK(server.log[server.nlog - 1].type == WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "the last piece ends the message");

    /* Binary fragments, received into the allocated-buffer-free client. */
    forget(&client);
    unsigned char chunk[600];
    memset(chunk, 0xAB, sizeof chunk);
    CHECK_HR(send_data(&server, WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE, chunk, sizeof chunk, CTX(10)), S_OK);
    settle(&client, &server);
    CHECK_HR(send_data(&server, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, chunk, 10, CTX(11)), S_OK);
    settle(&client, &server);
    static unsigned char got[1024];
    for (int i = 0; i < 4; i++) {
        CHECK_HR(WebSocketReceive(client.h, NULL, CTX(12)), S_OK);
        settle(&client, &server);
        if (client.log[client.nlog - 1].type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
            break;
    }
    n = message(&client, CTX(12), got, sizeof got, &pieces, &last);
    CHECK(n == 610 && last == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "610 bytes in %d pieces, last a BINARY_MESSAGE",
          pieces);
    close_pair();
}

static void ping_pong(void) {
    open_pair(NULL, 0, NULL, 0);
    WEB_SOCKET_BUFFER b = {.Data = {(PBYTE) "x", 1}};
    CHECK_HR(WebSocketSend(client.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, &b, NULL), E_INVALIDARG);

    /* A ping: the server answers it through its receive queue. */
    CHECK_HR(WebSocketReceive(client.h, NULL, CTX(1)), S_OK);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(2)), S_OK);
    CHECK_HR(WebSocketSend(client.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, CTX(3)), S_OK);
    for (int i = 0; i < 8; i++)
        step(&client, WEB_SOCKET_SEND_ACTION_QUEUE);
    CHECK(find(&client, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(3), NULL), "the ping is sent");
    struct event *ping = find(&client, WEB_SOCKET_SEND_TO_NETWORK_ACTION, CTX(3), NULL);
    CHECK(ping && ping->type == WEB_SOCKET_PING_PONG_BUFFER_TYPE && ping->length == 6 && ping->data[0] == 0x89,
          "a masked, empty ping frame");
    for (int i = 0; i < 8; i++)
        step(&server, WEB_SOCKET_SEND_ACTION_QUEUE);
    CHECK(server.nlog == 0, "nothing on the server's send queue");
    for (int i = 0; i < 8; i++)
        step(&server, WEB_SOCKET_RECEIVE_ACTION_QUEUE);
    struct event *pong = find(&server, WEB_SOCKET_SEND_TO_NETWORK_ACTION, NULL, NULL);
    CHECK(pong && pong->type == WEB_SOCKET_PING_PONG_BUFFER_TYPE && pong->length == 2 && pong->data[0] == 0x8A,
          "the server's own pong, with no application context");
    CHECK(!find(&server, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(2), NULL), "a ping is not indicated");
    settle(&client, &server);
    struct event *e = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(1), NULL);
    CHECK(e && e->type == WEB_SOCKET_PING_PONG_BUFFER_TYPE && e->length == 0, "the pong arrives as PING_PONG");

    /* An unsolicited pong. */
    CHECK_HR(WebSocketReceive(client.h, NULL, CTX(4)), S_OK);
    CHECK_HR(WebSocketSend(server.h, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, CTX(5)), S_OK);
    settle(&client, &server);
    CHECK(find(&server, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(5), NULL), "the pong is sent");
    e = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(4), NULL);
    CHECK(e && e->type == WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, "it arrives as UNSOLICITED_PONG");
    close_pair();
}

static void close_handshake(void) {
    open_pair(NULL, 0, NULL, 0);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(1)), S_OK);
    CHECK_HR(send_close(&client, WEB_SOCKET_SUCCESS_CLOSE_STATUS, "bye", CTX(2)), S_OK);
    settle(&client, &server);
    CHECK(find(&client, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(2), NULL), "the close is sent");
    struct event *sent = find(&client, WEB_SOCKET_SEND_TO_NETWORK_ACTION, CTX(2), NULL);
    CHECK(sent && sent->type == WEB_SOCKET_CLOSE_BUFFER_TYPE && sent->length == 2 + 4 + 2 + 3, "as one frame's bytes");

    /* After a close only control frames. */
    CHECK_HR(send_data(&client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, "late", 4, NULL), WS_E_INVALID_OPERATION);
    CHECK_HR(send_close(&client, WEB_SOCKET_SUCCESS_CLOSE_STATUS, NULL, NULL), WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketSend(client.h, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, NULL, CTX(3)), S_OK);
    for (int i = 0; i < 4; i++)
        step(&client, WEB_SOCKET_SEND_ACTION_QUEUE);
    CHECK(find(&client, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(3), NULL), "the pong is sent");

    struct event *e = find(&server, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(1), NULL);
    CHECK(e && e->type == WEB_SOCKET_CLOSE_BUFFER_TYPE, "the server receives the close");
    CHECK(e->status == 1000 && e->length == 3 && memcmp(e->data, "bye", 3) == 0, "1000 \"bye\" (%u)",
          (unsigned)e->status);
    CHECK(!find(&server, WEB_SOCKET_SEND_TO_NETWORK_ACTION, NULL, NULL),
          "the component does not answer a close itself");
    CHECK_HR(WebSocketReceive(server.h, NULL, NULL), WS_E_INVALID_OPERATION);

    /* The server answers with its own close; the client reads it. */
    CHECK_HR(WebSocketReceive(client.h, NULL, CTX(4)), S_OK);
    WEB_SOCKET_BUFFER reasonless = {.CloseStatus = {NULL, 0, WEB_SOCKET_SUCCESS_CLOSE_STATUS}};
    CHECK_HR(WebSocketSend(server.h, WEB_SOCKET_CLOSE_BUFFER_TYPE, &reasonless, CTX(5)), S_OK);
    settle(&client, &server);
    CHECK(find(&server, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(5), NULL), "the server's close is sent");
    e = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(4), NULL);
    CHECK(e && e->type == WEB_SOCKET_CLOSE_BUFFER_TYPE && e->status == 1000 && e->length == 0 && e->pointer == NULL,
          "the client receives 1000, no reason, pbReason NULL");
    CHECK_HR(WebSocketSend(server.h, WEB_SOCKET_PING_PONG_BUFFER_TYPE, NULL, NULL), S_OK);
    close_pair();

    /* A close without a status: NULL buffer, received as EMPTY (1005). */
    open_pair(NULL, 0, NULL, 0);
    CHECK_HR(WebSocketReceive(client.h, NULL, CTX(6)), S_OK);
    CHECK_HR(WebSocketSend(server.h, WEB_SOCKET_CLOSE_BUFFER_TYPE, NULL, CTX(7)), S_OK);
    settle(&client, &server);
    e = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(6), NULL);
    CHECK(e && e->type == WEB_SOCKET_CLOSE_BUFFER_TYPE && e->status == WEB_SOCKET_EMPTY_CLOSE_STATUS,
          "a close with no status is 1005");
    close_pair();
}

static void abort_handle(void) {
    open_pair(NULL, 0, NULL, 0);
    CHECK_HR(send_data(&client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "abc", 3, CTX(1)), S_OK);
    CHECK_HR(WebSocketReceive(client.h, NULL, CTX(2)), S_OK);
    WebSocketAbortHandle(client.h);
    for (int i = 0; i < 8; i++)
        step(&client, WEB_SOCKET_ALL_ACTION_QUEUE);
    CHECK(!find(&client, WEB_SOCKET_SEND_TO_NETWORK_ACTION, CTX(1), NULL), "nothing more is sent");
    CHECK(find(&client, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, CTX(1), NULL), "the send drains");
    struct event *e = find(&client, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, CTX(2), NULL);
    CHECK(e && e->count == 0 && e->type == 0, "the receive drains, with no buffer");
    CHECK(pipe_available(&c2s) == 0, "no bytes went out");
    CHECK_HR(send_data(&client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, "abc", 3, NULL), WS_E_INVALID_OPERATION);
    CHECK_HR(WebSocketReceive(client.h, NULL, NULL), WS_E_INVALID_OPERATION);
    close_pair();

    /* A receive cancelled by completing RECEIVE_FROM_NETWORK with 0. */
    open_pair(NULL, 0, NULL, 0);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(3)), S_OK);
    WEB_SOCKET_BUFFER b[1];
    ULONG count = 1;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID app, ctx;
    CHECK_HR(WebSocketGetAction(server.h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &count, &action, &type, &app, &ctx),
             S_OK);
    CHECK(action == WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION && app == CTX(3), "a read");
    WebSocketCompleteAction(server.h, ctx, 0);
    count = 1;
    CHECK_HR(WebSocketGetAction(server.h, WEB_SOCKET_RECEIVE_ACTION_QUEUE, b, &count, &action, &type, NULL, &ctx),
             S_OK);
    CHECK(action == WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION && count == 0, "the receive ends with no buffer");
    WebSocketCompleteAction(server.h, ctx, 0);
    close_pair();
}

static void get_action_arguments(void) {
    open_pair(NULL, 0, NULL, 0);
    WEB_SOCKET_BUFFER b[1];
    ULONG count = 0;
    WEB_SOCKET_ACTION action;
    WEB_SOCKET_BUFFER_TYPE type;
    PVOID ctx;
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, NULL, &ctx),
             E_INVALIDARG);
    count = 1;
    CHECK_HR(WebSocketGetAction(client.h, (WEB_SOCKET_ACTION_QUEUE)0, b, &count, &action, &type, NULL, &ctx),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, NULL, &count, &action, &type, NULL, &ctx),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, b, NULL, &action, &type, NULL, &ctx),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, NULL, &type, NULL, &ctx),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, NULL, NULL, &ctx),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, NULL, NULL),
             E_INVALIDARG);
    CHECK_HR(WebSocketGetAction(client.h, WEB_SOCKET_ALL_ACTION_QUEUE, b, &count, &action, &type, NULL, &ctx), S_OK);
    CHECK(action == WEB_SOCKET_NO_ACTION && count == 0 && ctx == NULL, "nothing queued, NO_ACTION");
    /* A stale or unknown action context is ignored. */
    WebSocketCompleteAction(client.h, (PVOID)&tag[0], 5);
    close_pair();
}

static void protocol_error(void) {
    open_pair(NULL, 0, NULL, 0);
    CHECK_HR(WebSocketReceive(server.h, NULL, CTX(1)), S_OK);
    /* A client frame that is not masked. */
    pipe_write(&c2s, "\x81\x02hi", 4);
    for (int i = 0; i < 8; i++)
        step(&server, WEB_SOCKET_RECEIVE_ACTION_QUEUE);
    struct event *e = find(&server, WEB_SOCKET_SEND_TO_NETWORK_ACTION, NULL, NULL);
    CHECK(e && e->type == WEB_SOCKET_CLOSE_BUFFER_TYPE && e->length >= 4 && e->data[0] == 0x88 && e->data[2] == 0x03 &&
              e->data[3] == 0xEA,
          "the server's own close 1002 goes out through the receive queue");
    CHECK(server.failure == E_INVALID_PROTOCOL_OPERATION, "then GetAction fails with E_INVALID_PROTOCOL_OPERATION (%s)",
          hr_name(server.failure));
    close_pair();

    open_pair(NULL, 0, NULL, 0);
    CHECK_HR(WebSocketReceive(client.h, NULL, CTX(2)), S_OK);
    /* Text that is not UTF-8. */
    pipe_write(&s2c, "\x81\x02\xC3\x28", 4);
    for (int i = 0; i < 8; i++)
        step(&client, WEB_SOCKET_ALL_ACTION_QUEUE);
    e = find(&client, WEB_SOCKET_SEND_TO_NETWORK_ACTION, NULL, NULL);
    CHECK(e && e->type == WEB_SOCKET_CLOSE_BUFFER_TYPE, "the client's own close goes out");
    CHECK(client.failure == E_INVALID_PROTOCOL_FORMAT, "then E_INVALID_PROTOCOL_FORMAT (%s)", hr_name(client.failure));
    close_pair();
}

static void allocated_buffer(void) {
    static uint64_t memory[1024]; /* 8 KiB, 8-byte aligned */
    ULONG receive = 1024, send = 1024;
    WEB_SOCKET_PROPERTY props[] = {
        {WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, &receive, sizeof receive},
        {WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, &send, sizeof send},
        {WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, memory, sizeof memory},
    };
    open_pair(NULL, 0, props, LEN(props));
    static unsigned char bytes[3000], joined[3000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i % 251);
    CHECK_HR(send_data(&client, WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE, bytes, sizeof bytes, CTX(1)), S_OK);
    for (int i = 0; i < 8; i++) {
        CHECK_HR(WebSocketReceive(server.h, NULL, CTX(2)), S_OK);
        settle(&client, &server);
        CHECK(server.last_read_buffer == (PBYTE)memory, "RECEIVE_FROM_NETWORK hands out the allocated buffer");
        if (server.log[server.nlog - 1].type == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE)
            break;
    }
    int pieces;
    WEB_SOCKET_BUFFER_TYPE last;
    size_t n = message(&server, CTX(2), joined, sizeof joined, &pieces, &last);
    CHECK(n == sizeof bytes && memcmp(joined, bytes, n) == 0 && last == WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE,
          "3000 bytes through it, in %d pieces", pieces);
    close_pair();
}

int main(void) {
    global_properties();
    bad_properties();
    null_handles();
    handshake();
    messages();
    large_and_fragmented();
    ping_pong();
    close_handshake();
    abort_handle();
    get_action_arguments();
    protocol_error();
    allocated_buffer();
    forget(&client);
    forget(&server);
    free(client.log);
    free(server.log);
    free(c2s.data);
    free(s2c.data);
    printf("# pass %d\n", checks_passed);
    return 0;
}
