
/*
 * Copyright (C) nginx-iot authors
 *
 * The CoAP link codec: the frames that the CoAP sidecar (coap_sidecar/)
 * and the stream adapter exchange over loopback UDP, as pure functions
 * that parse, verify and build them (docs/coap.md, "The link").
 *
 * A frame: "IoTC", version 2, type, the frame's length (2, all of it
 * with the MAC), sequence number (4), sender's time in ms (8), then
 * fields (tag 1, length 2, value), then the HMAC-SHA256 of all that with
 * the shared secret (32).  Numbers are big endian.  A datagram holds one
 * frame or more, back to back: each side gathers what it has to send in
 * one turn of its loop (NGX_IOT_COAPLINK_DATAGRAM_MAX), so that a busy
 * link costs a datagram a turn rather than one a message each way.
 */


#ifndef _NGX_IOT_COAPLINK_H_INCLUDED_
#define _NGX_IOT_COAPLINK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_IOT_COAPLINK_HEADER_LEN    20
#define NGX_IOT_COAPLINK_MAC_LEN       32
#define NGX_IOT_COAPLINK_MAX_LEN       4096      /* a frame */
#define NGX_IOT_COAPLINK_DATAGRAM_MAX  16384     /* frames gathered */
#define NGX_IOT_COAPLINK_VERSION       2
#define NGX_IOT_COAPLINK_SKEW          60000     /* ms either way */

/* frame types: a request and its reply (the request's type + 1) */
#define NGX_IOT_COAPLINK_UPLINK        1    /* sidecar: a device's message */
#define NGX_IOT_COAPLINK_UPLINK_R      2
#define NGX_IOT_COAPLINK_PULL          3    /* sidecar: the oldest queued */
#define NGX_IOT_COAPLINK_PULL_R        4
#define NGX_IOT_COAPLINK_PULLED        5    /* sidecar: it went out */
#define NGX_IOT_COAPLINK_PULLED_R      6
#define NGX_IOT_COAPLINK_KEY           7    /* sidecar: a PSK identity */
#define NGX_IOT_COAPLINK_KEY_R         8
#define NGX_IOT_COAPLINK_PUSHED        9    /* sidecar: a push's outcome */
#define NGX_IOT_COAPLINK_PUSHED_R      10
#define NGX_IOT_COAPLINK_PUSH_POLL     11   /* sidecar: the next push */
#define NGX_IOT_COAPLINK_PUSH_POLL_R   12

/* field tags */
#define NGX_IOT_COAPLINK_ADDR          1    /* family 4|6, port 2, address */
#define NGX_IOT_COAPLINK_IDENTITY      2    /* DTLS PSK identity */
#define NGX_IOT_COAPLINK_METHOD        3
#define NGX_IOT_COAPLINK_PATH          4
#define NGX_IOT_COAPLINK_PAYLOAD       5
#define NGX_IOT_COAPLINK_RESULT        6    /* 1 octet */
#define NGX_IOT_COAPLINK_DOWNLINK      7    /* a downlink's id, 8 octets */
#define NGX_IOT_COAPLINK_KEYDATA       8    /* a PSK */
#define NGX_IOT_COAPLINK_LOCAL_PORT    9    /* 2 octets */
#define NGX_IOT_COAPLINK_DEVICE        10   /* a device's id, 8 octets */
#define NGX_IOT_COAPLINK_CODE          11   /* a CoAP response code, 1 */

/* results in replies */
#define NGX_IOT_COAPLINK_OK            0
#define NGX_IOT_COAPLINK_UNKNOWN       1    /* no such device */
#define NGX_IOT_COAPLINK_EMPTY         2    /* nothing queued */
#define NGX_IOT_COAPLINK_UNAVAILABLE   3    /* the store failed: later */
#define NGX_IOT_COAPLINK_BAD           4    /* the request makes no sense */
#define NGX_IOT_COAPLINK_TOO_LARGE     5    /* payload over 2048 bytes */

/* a push's outcome, in a pushed frame's result */
#define NGX_IOT_COAPLINK_DELIVERED     0    /* the device answered 2.xx */
#define NGX_IOT_COAPLINK_REFUSED       6    /* 4.xx, 5.xx or a reset */
#define NGX_IOT_COAPLINK_NO_ANSWER     7    /* retransmissions exhausted */
#define NGX_IOT_COAPLINK_NO_ADDRESS    8    /* nowhere to send it */


typedef struct {
    size_t                     size;      /* the frame's, in its datagram */
    ngx_uint_t                 type;
    uint32_t                   seq;
    uint64_t                   time;
    ngx_int_t                  result;    /* -1: absent */
    ngx_uint_t                 has_addr;
    ngx_uint_t                 family;    /* AF_INET, AF_INET6 */
    ngx_uint_t                 port;
    u_char                     addr[16];
    ngx_uint_t                 local_port;
    ngx_int_t                  code;      /* -1 or 0: none */
    uint64_t                   downlink;
    uint64_t                   device;
    ngx_str_t                  identity;
    ngx_str_t                  method;
    ngx_str_t                  path;
    ngx_str_t                  payload;   /* data NULL: absent */
    ngx_str_t                  key;
} ngx_iot_coaplink_frame_t;


/*
 * Parses and verifies the frame at the start of data (the rest of a
 * datagram): NGX_OK with f->size, the frame's length (the next one, if
 * any, starts there), or NGX_ERROR with why set (what follows in the
 * datagram is not to be believed either).  The frame's strings point into
 * data.  now: ms since the epoch, for the time window that keeps an old
 * frame from being replayed much later.
 */
ngx_int_t ngx_iot_coaplink_parse(u_char *data, size_t len,
    ngx_str_t *secret, uint64_t now, ngx_iot_coaplink_frame_t *f,
    const char **why);

/* the frame into out (NGX_IOT_COAPLINK_MAX_LEN): its length, or 0 */
size_t ngx_iot_coaplink_build(ngx_iot_coaplink_frame_t *f,
    ngx_str_t *secret, u_char *out);

/* a frame's address as a sockaddr (for the address map) */
socklen_t ngx_iot_coaplink_sockaddr(ngx_iot_coaplink_frame_t *f,
    struct sockaddr *sa);

/* at a process's exit: what the frames' HMAC keeps, freed */
void ngx_iot_coaplink_exit_process(void);


#endif /* _NGX_IOT_COAPLINK_H_INCLUDED_ */
