
/*
 * Copyright (C) nginx-iot authors
 *
 * A WebSocket (RFC 6455) engine for the server side of a stream: the
 * handshake, a resumable frame parser, a writer with a bounded queue,
 * ping/pong, the close handshake, a keep-alive timer and a graceful close
 * when nginx shuts down or reloads.  A dialect checks the handshake,
 * answers a refusal in its own error format, then hands the request over:
 *
 *     rc = ngx_http_iot_ws_check(r, &status, &message);
 *     ... NGX_DECLINED: answer status/message; NGX_ERROR: 500 ...
 *     ws = ngx_http_iot_ws_create(r, sizeof(my_stream_t));
 *     ... fill ws->data (my_stream_t, zeroed), ws->keepalive, ws->closed ...
 *     rc = ngx_http_iot_ws_accept(ws);
 *     ... NGX_DONE: the stream is open, return NGX_DONE ...
 *
 * Once the 101 answer is out the request is freed (an idle stream keeps
 * only its connection): the dialect's per-stream state lives in ws->data,
 * never in r->pool, and callbacks do not use the request.
 *
 * ngx_http_iot_ws_send() and ngx_http_iot_ws_close() may be called from
 * anywhere (a bus callback, a timer, the engine's own callbacks): they
 * never free the stream; the engine does that later, from its own event
 * handlers, and calls ws->closed first.
 */


#ifndef _NGX_HTTP_IOT_WS_H_INCLUDED_
#define _NGX_HTTP_IOT_WS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* opcodes */
#define NGX_HTTP_IOT_WS_CONTINUATION    0x0
#define NGX_HTTP_IOT_WS_TEXT            0x1
#define NGX_HTTP_IOT_WS_BINARY          0x2
#define NGX_HTTP_IOT_WS_CLOSE           0x8
#define NGX_HTTP_IOT_WS_PING            0x9
#define NGX_HTTP_IOT_WS_PONG            0xa

/* close codes (RFC 6455 7.4.1) */
#define NGX_HTTP_IOT_WS_NORMAL          1000
#define NGX_HTTP_IOT_WS_GOING_AWAY      1001
#define NGX_HTTP_IOT_WS_PROTOCOL_ERROR  1002
#define NGX_HTTP_IOT_WS_UNACCEPTABLE    1003
#define NGX_HTTP_IOT_WS_INVALID_DATA    1007
#define NGX_HTTP_IOT_WS_POLICY          1008
#define NGX_HTTP_IOT_WS_TOO_BIG         1009
#define NGX_HTTP_IOT_WS_INTERNAL_ERROR  1011

#define NGX_HTTP_IOT_WS_CONTROL_MAX     125
#define NGX_HTTP_IOT_WS_REASON_MAX      123

/* data frames of one event loop turn written together, up to this much */
#define NGX_HTTP_IOT_WS_GATHER          65536


typedef struct ngx_http_iot_ws_s  ngx_http_iot_ws_t;

/* a whole message from the client: opcode is TEXT (valid UTF-8) or BINARY */
typedef void (*ngx_http_iot_ws_message_pt)(ngx_http_iot_ws_t *ws,
    ngx_uint_t opcode, ngx_str_t *message);

typedef void (*ngx_http_iot_ws_handler_pt)(ngx_http_iot_ws_t *ws);


/* where a UTF-8 check stands between two pieces of a text */
typedef struct {
    u_char                        need;     /* continuation bytes to come */
    u_char                        lo;       /* range of the next one */
    u_char                        hi;
} ngx_http_iot_ws_utf8_t;


struct ngx_http_iot_ws_s {
    ngx_connection_t             *connection;
    ngx_http_request_t           *request;       /* NULL once open */
    void                         *data;          /* the dialect's */

    /*
     * Set by the dialect between create and accept.  message: NULL drops
     * the client's messages (after checking them).  keepalive: called
     * after keepalive_time without a data frame sent; NULL sends a ping.
     * closed: called once when an accepted stream ends, just before its
     * memory goes; nothing can be sent any more.
     */
    ngx_http_iot_ws_message_pt    message;
    ngx_http_iot_ws_handler_pt    keepalive;
    ngx_http_iot_ws_handler_pt    closed;

    /* from the location's iot_ws_* directives; the dialect may change them */
    ngx_msec_t                    keepalive_time;    /* 0: never */
    size_t                        max_message;
    size_t                        send_buffer;
    ngx_msec_t                    close_timeout;     /* lingering_timeout */
    ngx_msec_t                    send_timeout;      /* send_timeout */

    /* the rest is the engine's */

    ngx_event_t                   keepalive_ev;
    ngx_msec_t                    last_data;

    ngx_chain_t                  *out;           /* frames not yet sent */
    ngx_chain_t                 **last_out;
    size_t                        out_bytes;

    u_char                       *msg;           /* with a message handler */
    size_t                        msg_size;
    uint64_t                      msg_len;       /* so far, with fragments */

    uint64_t                      left;          /* of the frame's payload */
    ngx_http_iot_ws_utf8_t        utf8;
    u_char                        mask[4];
    u_char                        ctl[NGX_HTTP_IOT_WS_CONTROL_MAX];
    u_char                        ctl_len;
    u_char                        state;
    u_char                        need;          /* header bytes to come */
    u_char                        opcode;        /* of the frame */
    u_char                        msg_opcode;    /* of the message */
    u_char                        mask_pos;

    unsigned                      fin:1;
    unsigned                      in_message:1;
    unsigned                      accepted:1;
    unsigned                      close_sent:1;
    unsigned                      close_received:1;
    unsigned                      failed:1;      /* input no longer parsed */
    unsigned                      shut_wr:1;
    unsigned                      eof:1;
    unsigned                      error:1;
    unsigned                      done:1;        /* memory is going */
    unsigned                      gathering:1;   /* out: not tried yet */
};


/*
 * Checks that r is a WebSocket handshake this engine accepts: NGX_OK, or
 * NGX_DECLINED with the HTTP status and a message for the dialect to
 * answer in its own format (426 also gets the Sec-WebSocket-Version
 * header set here), or NGX_ERROR.
 */
ngx_int_t ngx_http_iot_ws_check(ngx_http_request_t *r, ngx_uint_t *status,
    const char **message);

/*
 * A stream for r's connection, in the connection's pool, with the
 * location's settings and size zeroed bytes for the dialect at ws->data;
 * NULL on failure.
 */
ngx_http_iot_ws_t *ngx_http_iot_ws_create(ngx_http_request_t *r,
    size_t size);

/*
 * Answers 101 and takes the connection over.  Returns NGX_DONE when the
 * stream is open (the content handler returns it); anything else is
 * returned by the content handler as it is, and ws->closed is not called.
 */
ngx_int_t ngx_http_iot_ws_accept(ngx_http_iot_ws_t *ws);

/*
 * Sends one whole message (TEXT, BINARY) or a control frame (PING, PONG;
 * at most 125 bytes).  The data is copied if the socket does not take it
 * at once.  NGX_OK: sent or queued; NGX_DECLINED: not sent, the stream is
 * closing (a client so slow that the queue would grow past send_buffer
 * gets a close 1008 here); NGX_ERROR: a control frame too long.
 */
ngx_int_t ngx_http_iot_ws_send(ngx_http_iot_ws_t *ws, ngx_uint_t opcode,
    u_char *data, size_t len);

/*
 * Starts the close handshake with a code and a reason (cut to 123 bytes;
 * NULL for none); nothing more is sent.  The connection is closed when the
 * client answers, or after close_timeout.
 */
void ngx_http_iot_ws_close(ngx_http_iot_ws_t *ws, ngx_uint_t code,
    const char *reason);


#endif /* _NGX_HTTP_IOT_WS_H_INCLUDED_ */
