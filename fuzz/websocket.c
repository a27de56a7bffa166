
/*
 * Copyright (C) nginx-iot authors
 *
 * WebSocket frames from a client (ngx_http_iot_ws.c): the resumable frame
 * parser fed in pieces of every size, unmasking, fragmented messages and
 * their size limit, control frames (ping answered, close echoed), the
 * UTF-8 check of texts and close reasons, and the writer's queue when the
 * socket takes only part of a frame.
 *
 * Input: byte 0 chooses the stream's settings (bit 0: a message handler,
 * bits 1-2: max_message, bits 3-4: how much the socket takes per send),
 * byte 1 seeds the sizes of the pieces, the rest is what the client sent.
 * Every text message delivered must be valid UTF-8, checked here by a
 * plain validator of its own (an invariant).
 */


#include "ngx_fuzz.h"
#include "ngx_http_iot_ws.c"


static ngx_connection_t  ngx_fuzz_c;
static ngx_event_t       ngx_fuzz_rev, ngx_fuzz_wev;
static size_t            ngx_fuzz_budget;
static ngx_uint_t        ngx_fuzz_messages;


static ngx_int_t
ngx_fuzz_event(ngx_event_t *ev, ngx_int_t event, ngx_uint_t flags)
{
    return NGX_OK;
}


/* the socket: takes up to ngx_fuzz_budget bytes per call */

static ngx_chain_t *
ngx_fuzz_send_chain(ngx_connection_t *c, ngx_chain_t *in, off_t limit)
{
    size_t  n, room;

    room = ngx_fuzz_budget;

    for ( /* void */ ; in; in = in->next) {
        n = in->buf->last - in->buf->pos;

        if (n > room) {
            in->buf->pos += room;
            c->sent += room;
            return in;
        }

        in->buf->pos += n;
        c->sent += n;
        room -= n;
    }

    return NULL;
}


/* RFC 3629, written here without ngx_http_iot_ws_utf8()'s table of ranges */

static ngx_uint_t
ngx_fuzz_utf8_valid(u_char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  cp;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2;
            cp = p[i] & 0x1f;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3;
            cp = p[i] & 0x0f;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4;
            cp = p[i] & 0x07;

        } else {
            return 0;
        }

        if (i + n > len) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = (cp << 6) | (p[i + k] & 0x3f);
        }

        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800)
            || (n == 4 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            return 0;
        }
    }

    return 1;
}


static void
ngx_fuzz_message(ngx_http_iot_ws_t *ws, ngx_uint_t opcode, ngx_str_t *message)
{
    ngx_fuzz_messages++;

    if (message->len > ws->max_message) {
        abort();
    }

    if (opcode == NGX_HTTP_IOT_WS_TEXT
        && !ngx_fuzz_utf8_valid(message->data, message->len))
    {
        abort();
    }

    if (opcode != NGX_HTTP_IOT_WS_TEXT && opcode != NGX_HTTP_IOT_WS_BINARY) {
        abort();
    }

    /* what a dialect does with a message: answers it */
    (void) ngx_http_iot_ws_send(ws, opcode, message->data, message->len);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();

    ngx_event_timer_init(&ngx_fuzz_log);

    ngx_event_actions.add = ngx_fuzz_event;
    ngx_event_actions.del = ngx_fuzz_event;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char              *piece;
    size_t               pos, n;
    uint32_t             seed;
    ngx_pool_t          *pool;
    ngx_http_iot_ws_t   *ws;

    static size_t  max_messages[] = { 0, 1, 125, 65536 };
    static size_t  budgets[] = { (size_t) -1, 0, 1, 7 };

    if (size < 2) {
        return 0;
    }

    pool = ngx_fuzz_pool();

    ngx_memzero(&ngx_fuzz_c, sizeof(ngx_connection_t));
    ngx_memzero(&ngx_fuzz_rev, sizeof(ngx_event_t));
    ngx_memzero(&ngx_fuzz_wev, sizeof(ngx_event_t));

    ngx_fuzz_rev.data = &ngx_fuzz_c;
    ngx_fuzz_rev.log = &ngx_fuzz_log;
    ngx_fuzz_wev.data = &ngx_fuzz_c;
    ngx_fuzz_wev.log = &ngx_fuzz_log;
    ngx_fuzz_wev.write = 1;

    ngx_fuzz_c.fd = -1;
    ngx_fuzz_c.log = &ngx_fuzz_log;
    ngx_fuzz_c.pool = pool;
    ngx_fuzz_c.read = &ngx_fuzz_rev;
    ngx_fuzz_c.write = &ngx_fuzz_wev;
    ngx_fuzz_c.send_chain = ngx_fuzz_send_chain;

    ws = ngx_pcalloc(pool, sizeof(ngx_http_iot_ws_t));
    if (ws == NULL) {
        abort();
    }

    ws->connection = &ngx_fuzz_c;
    ws->last_out = &ws->out;
    ws->accepted = 1;
    ws->message = (data[0] & 1) ? ngx_fuzz_message : NULL;
    ws->max_message = max_messages[(data[0] >> 1) & 3];
    ws->send_buffer = 256;
    ws->close_timeout = 5000;
    ws->send_timeout = 60000;
    ws->keepalive_ev.log = &ngx_fuzz_log;

    ngx_fuzz_budget = budgets[(data[0] >> 3) & 3];
    ngx_fuzz_messages = 0;

    seed = data[1] | 1;

    /* what the client sent, read in pieces as the socket gives them */

    pos = 2;

    while (pos < size && !ws->close_received && !ws->error && !ws->failed) {
        seed = seed * 1103515245 + 12345;
        n = 1 + (seed >> 16) % ((seed & 0x100) ? 4096 : 8);
        n = ngx_min(n, size - pos);

        piece = ngx_alloc(n, &ngx_fuzz_log);
        if (piece == NULL) {
            abort();
        }

        ngx_memcpy(piece, data + pos, n);

        (void) ngx_http_iot_ws_parse(ws, piece, piece + n);

        ngx_free(piece);

        pos += n;

        /* the socket takes some of what waits */
        if (ws->out) {
            (void) ngx_http_iot_ws_flush(ws);
        }
    }

    if (ws->out_bytes > ws->send_buffer + ws->max_message + 10
                        + 2 * (NGX_HTTP_IOT_WS_CONTROL_MAX + 4))
    {
        /* the queue is bounded: send_buffer, one frame begun, a close */
        abort();
    }

    ngx_http_iot_ws_cleanup(ws);

    if (ngx_fuzz_rev.timer_set) {
        ngx_del_timer(&ngx_fuzz_rev);
    }

    if (ngx_fuzz_wev.timer_set) {
        ngx_del_timer(&ngx_fuzz_wev);
    }

    ngx_destroy_pool(pool);

    return 0;
}
