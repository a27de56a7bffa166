/*
 * Copyright (C) nginx-iot authors
 *
 * iot-coap-sidecar: the CoAP side of nginx-iot.  libcoap serves the
 * devices (CoAP on UDP 5683; CoAP over DTLS with pre-shared keys on 5684);
 * every request that needs the platform becomes a frame on the CoAP link,
 * loopback UDP to nginx's "iot_coap_link" server, authenticated with
 * HMAC-SHA256 and a shared secret (docs/coap.md).  The sidecar keeps no
 * state of its own: a device's request is answered from nginx's reply,
 * and with 5.03 when nginx does not answer.
 */

#include <coap3/coap.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>


#define LINK_HEADER        20
#define LINK_MAC           32
#define LINK_MAX           4096        /* a frame */
#define LINK_DATAGRAM      16384       /* the frames of a turn, gathered */
#define LINK_VERSION       2
#define LINK_TIMEOUT       3000        /* ms: then the device gets 5.03 */
#define LINK_KEY_TIMEOUT   1000        /* ms: a handshake waits this long */
#define ACK_WAIT           1000        /* ms: then an empty ACK (uplinks) */
#define PAYLOAD_MAX        2048
#define OCTET_STREAM       COAP_MEDIATYPE_APPLICATION_OCTET_STREAM
#define SLOTS              4096        /* requests waiting for nginx */
#define EVENTS             64          /* libcoap's sockets, per round */
#define BURST              16          /* reads per socket and round */
#define PREPARE_EVERY      100         /* ms: libcoap's timers, at least */

/* frame types and fields: ngx_iot_module/ngx_iot_coaplink.h */
#define T_UPLINK           1
#define T_PULL             3
#define T_PULLED           5
#define T_KEY              7
#define T_PUSHED           9
#define T_PUSH_POLL        11

#define F_ADDR             1
#define F_IDENTITY         2
#define F_METHOD           3
#define F_PATH             4
#define F_PAYLOAD          5
#define F_RESULT           6
#define F_DOWNLINK         7
#define F_KEYDATA          8
#define F_LOCAL_PORT       9
#define F_DEVICE           10
#define F_CODE             11

#define RES_OK             0
#define RES_UNKNOWN        1
#define RES_EMPTY          2
#define RES_UNAVAILABLE    3
#define RES_BAD            4
#define RES_TOO_LARGE      5
#define RES_REFUSED        6
#define RES_NO_ANSWER      7
#define RES_NO_ADDRESS     8

#define PUSHES             64          /* coap-push in flight at once */
#define PUSH_POLL_EVERY    250         /* ms, while idle */


typedef struct {
    size_t              size;          /* the frame's, in its datagram */
    int                 type;
    uint32_t            seq;
    int                 result;
    const uint8_t      *payload;
    size_t              payload_len;
    uint64_t            downlink;
    uint64_t            device;
    const uint8_t      *key;
    size_t              key_len;
    const uint8_t      *path;
    size_t              path_len;
    int                 has_addr;
    uint8_t             addr[4];
    uint16_t            port;
} frame_t;


/* a coap-push on its way to its device */
typedef struct {
    int                 used;
    uint64_t            downlink;
    uint64_t            device;
    coap_session_t     *session;
    int                 done;          /* answered: the session may go */
} push_t;


enum { FREE = 0, WAITING, READY };

typedef struct {
    int                 state;
    int                 type;
    int                 tries;         /* PULLED: sent so often */
    uint32_t            seq;
    uint64_t            deadline;
    coap_session_t     *session;
    coap_async_t       *async;         /* a pull's */
    coap_pdu_code_t     code;          /* the answer, once READY */
    int                 con;           /* an uplink: it was confirmable */
    int                 acked;         /* an uplink: the empty ACK is out */
    uint16_t            mid;           /* an uplink: the request's */
    uint64_t            ack_by;        /* an uplink: the empty ACK then */
    int                 next;          /* an uplink: in its hash chain */
    size_t              token_len;
    uint8_t             token[8];
    uint64_t            downlink;
    uint64_t            device;
    size_t              len;
    uint8_t             payload[PAYLOAD_MAX];
    uint8_t             frame[LINK_MAX];   /* PULLED: for a resend */
    size_t              frame_len;
} slot_t;


static slot_t           slots[SLOTS];
static int              uplinks[SLOTS];    /* hash chains of waiting uplinks */
static unsigned         active;
static uint32_t         next_seq;
static int              link_fd = -1;
static uint8_t          link_out[LINK_DATAGRAM];   /* frames to send */
static size_t           link_out_len;
static int              key_fd = -1;
static uint8_t          secret[1024];
static size_t           secret_len;
static EVP_MAC_CTX     *mac_ctx;       /* HMAC-SHA256 with the secret */
static int              verbose;
static uint16_t         coap_port = 5683;
static volatile sig_atomic_t  quit;

/* slots answered in a handler: their sessions go after coap_io_process */
static unsigned         answered[SLOTS];
static unsigned         nanswered;

static push_t           pushes[PUSHES];
static unsigned         npushes;
static uint64_t         push_after;    /* the last coap-push taken */
static int              push_polling;
static uint64_t         push_next_poll;
static coap_context_t  *coap_ctx;
static int              rcvbuf = 4 * 1024 * 1024;
static unsigned         ack_timeout_ms = 2000;
static int              max_retransmit = 4;


static void
say(int level, const char *fmt, ...)
{
    va_list  ap;

    if (level > verbose) {
        return;
    }

    fprintf(stderr, "iot-coap-sidecar: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


static uint64_t
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (uint64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* ------------------------------------------------------------ the link */


static uint8_t *
put_field(uint8_t *p, uint8_t *end, int tag, const void *v, size_t len)
{
    if (p == NULL || len > 0xffff || (size_t) (end - p) < 3 + len) {
        return NULL;
    }

    *p++ = (uint8_t) tag;
    *p++ = (uint8_t) (len >> 8);
    *p++ = (uint8_t) len;
    memcpy(p, v, len);

    return p + len;
}


static uint8_t *
put_u64(uint8_t *p, uint8_t *end, int tag, uint64_t v)
{
    uint8_t  b[8];
    int      i;

    for (i = 0; i < 8; i++) {
        b[i] = (uint8_t) (v >> (56 - 8 * i));
    }

    return put_field(p, end, tag, b, 8);
}


static uint8_t *
put_addr(uint8_t *p, uint8_t *end, const coap_address_t *a)
{
    uint8_t  v[19];

    if (a->addr.sa.sa_family == AF_INET) {
        v[0] = 4;
        memcpy(v + 1, &a->addr.sin.sin_port, 2);
        memcpy(v + 3, &a->addr.sin.sin_addr, 4);
        return put_field(p, end, F_ADDR, v, 7);
    }

    if (a->addr.sa.sa_family == AF_INET6) {
        /* an IPv4-mapped address is the IPv4 address it maps */
        if (IN6_IS_ADDR_V4MAPPED(&a->addr.sin6.sin6_addr)) {
            v[0] = 4;
            memcpy(v + 1, &a->addr.sin6.sin6_port, 2);
            memcpy(v + 3, (uint8_t *) &a->addr.sin6.sin6_addr + 12, 4);
            return put_field(p, end, F_ADDR, v, 7);
        }

        v[0] = 6;
        memcpy(v + 1, &a->addr.sin6.sin6_port, 2);
        memcpy(v + 3, &a->addr.sin6.sin6_addr, 16);
        return put_field(p, end, F_ADDR, v, 19);
    }

    return p;
}


static uint8_t *
frame_start(uint8_t *out, int type, uint32_t seq)
{
    uint64_t  t;
    int       i;

    memcpy(out, "IoTC", 4);
    out[4] = LINK_VERSION;
    out[5] = (uint8_t) type;
    out[6] = 0;                        /* the length: frame_end() */
    out[7] = 0;
    out[8] = (uint8_t) (seq >> 24);
    out[9] = (uint8_t) (seq >> 16);
    out[10] = (uint8_t) (seq >> 8);
    out[11] = (uint8_t) seq;

    t = now_ms();

    for (i = 0; i < 8; i++) {
        out[12 + i] = (uint8_t) (t >> (56 - 8 * i));
    }

    return out + LINK_HEADER;
}


/*
 * HMAC-SHA256 with the link's secret.  The keyed context is made once:
 * OpenSSL's one-shot HMAC() looks the algorithm up and sets the key up
 * again for every frame, which cost more than the rest of a frame.
 */

static int
mac_setup(void)
{
    EVP_MAC     *mac;
    OSSL_PARAM   params[2];

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    if (mac == NULL) {
        return -1;
    }

    mac_ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (mac_ctx == NULL) {
        return -1;
    }

    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *) "SHA256",
                                                 0);
    params[1] = OSSL_PARAM_construct_end();

    if (!EVP_MAC_init(mac_ctx, secret, secret_len, params)) {
        return -1;
    }

    return 0;
}


static int
mac_of(const uint8_t *data, size_t len, uint8_t *out)
{
    size_t  n;

    /* no key: the one given to mac_setup() */
    if (!EVP_MAC_init(mac_ctx, NULL, 0, NULL)
        || !EVP_MAC_update(mac_ctx, data, len)
        || !EVP_MAC_final(mac_ctx, out, &n, LINK_MAC)
        || n != LINK_MAC)
    {
        return -1;
    }

    return 0;
}


/* the MAC after the fields: the frame's length, or 0 */

static size_t
frame_end(uint8_t *out, uint8_t *p)
{
    size_t  len;

    if (p == NULL) {
        return 0;
    }

    len = (size_t) (p - out) + LINK_MAC;

    out[6] = (uint8_t) (len >> 8);
    out[7] = (uint8_t) len;

    if (mac_of(out, p - out, p) != 0) {
        return 0;
    }

    return len;
}


static int
frame_parse(const uint8_t *data, size_t len, frame_t *f)
{
    const uint8_t  *p, *end, *v;
    uint8_t         mac[LINK_MAC];
    uint64_t        t, now, id;
    size_t          flen;
    int             i, tag;

    memset(f, 0, sizeof(frame_t));
    f->result = -1;

    /* the frame at the start of data, the rest of a datagram */

    if (len < LINK_HEADER + LINK_MAC || memcmp(data, "IoTC", 4) != 0
        || data[4] != LINK_VERSION)
    {
        return -1;
    }

    flen = ((size_t) data[6] << 8) | data[7];

    if (flen < LINK_HEADER + LINK_MAC || flen > LINK_MAX || flen > len) {
        return -1;
    }

    len = flen;
    f->size = flen;

    end = data + len - LINK_MAC;

    if (mac_of(data, end - data, mac) != 0
        || CRYPTO_memcmp(mac, end, LINK_MAC) != 0)
    {
        return -1;
    }

    f->type = data[5];
    f->seq = ((uint32_t) data[8] << 24) | ((uint32_t) data[9] << 16)
             | ((uint32_t) data[10] << 8) | data[11];

    t = 0;

    for (i = 12; i < 20; i++) {
        t = (t << 8) | data[i];
    }

    now = now_ms();

    if (t + 60000 < now || t > now + 60000) {
        return -1;
    }

    for (p = data + LINK_HEADER; p < end; p = v + flen) {
        if (end - p < 3) {
            return -1;
        }

        tag = p[0];
        flen = ((size_t) p[1] << 8) | p[2];
        v = p + 3;

        if ((size_t) (end - v) < flen) {
            return -1;
        }

        switch (tag) {

        case F_RESULT:
            if (flen == 1) {
                f->result = v[0];
            }
            break;

        case F_PAYLOAD:
            f->payload = v;
            f->payload_len = flen;
            break;

        case F_PATH:
            f->path = v;
            f->path_len = flen;
            break;

        case F_ADDR:
            if (flen == 7 && v[0] == 4) {
                f->has_addr = 1;
                f->port = (uint16_t) ((v[1] << 8) | v[2]);
                memcpy(f->addr, v + 3, 4);
            }
            break;

        case F_KEYDATA:
            f->key = v;
            f->key_len = flen;
            break;

        case F_DOWNLINK:
        case F_DEVICE:
            if (flen != 8) {
                return -1;
            }

            id = 0;

            for (i = 0; i < 8; i++) {
                id = (id << 8) | v[i];
            }

            if (tag == F_DOWNLINK) {
                f->downlink = id;

            } else {
                f->device = id;
            }

            break;
        }
    }

    return 0;
}


static void nginx_gone(void);


/*
 * The frames gathered in a turn of the loop go in one datagram: a busy
 * link costs a datagram a turn, not one a message.  A send that fails
 * because nginx is not there answers who waits 5.03 (nginx_gone()).
 */

static void
link_flush(void)
{
    ssize_t  n;

    if (link_out_len == 0) {
        return;
    }

    n = send(link_fd, link_out, link_out_len, 0);
    link_out_len = 0;

    if (n < 0) {
        say(1, "the link to nginx: send() failed: %s", strerror(errno));

        if (errno == ECONNREFUSED) {
            nginx_gone();
        }
    }
}


/* a frame (built in LINK_MAX bytes) to the datagram of this turn */

static void
link_send(const uint8_t *frame, size_t len)
{
    if (sizeof(link_out) - link_out_len < len) {
        link_flush();
    }

    memcpy(link_out + link_out_len, frame, len);
    link_out_len += len;
}


static slot_t *
slot_new(void)
{
    slot_t    *s;
    uint32_t   seq;
    unsigned   i;

    for (i = 0; i < SLOTS; i++) {
        seq = ++next_seq;

        if (seq == 0) {
            seq = ++next_seq;
        }

        s = &slots[seq % SLOTS];

        if (s->state == FREE) {
            memset(s, 0, offsetof(slot_t, payload));
            s->seq = seq;
            s->state = WAITING;
            s->deadline = now_ms() + LINK_TIMEOUT;
            active++;
            return s;
        }
    }

    return NULL;
}


/*
 * Waiting uplinks are found by their session and token (a device that
 * sends its request again gets only the empty ACK again), in constant time
 * rather than by libcoap's list of asyncs, which it walks for every
 * datagram.
 */

static unsigned
uplink_hash(coap_session_t *session, const uint8_t *token, size_t len)
{
    uintptr_t  h;
    size_t     i;

    h = (uintptr_t) session >> 4;

    for (i = 0; i < len; i++) {
        h = h * 31 + token[i];
    }

    return (unsigned) (h % SLOTS);
}


static slot_t *
uplink_find(coap_session_t *session, coap_bin_const_t token)
{
    slot_t  *s;
    int      k;

    k = uplinks[uplink_hash(session, token.s, token.length)];

    while (k) {
        s = &slots[k - 1];

        if (s->session == session && s->token_len == token.length
            && memcmp(s->token, token.s, token.length) == 0)
        {
            return s;
        }

        k = s->next;
    }

    return NULL;
}


static void
uplink_unlink(slot_t *s)
{
    int  *k;

    k = &uplinks[uplink_hash(s->session, s->token, s->token_len)];

    while (*k) {
        if (&slots[*k - 1] == s) {
            *k = s->next;
            break;
        }

        k = &slots[*k - 1].next;
    }
}


static void
slot_free(slot_t *s)
{
    if (s->type == T_UPLINK && s->session) {
        uplink_unlink(s);
    }

    if (s->session) {
        coap_session_release(s->session);
        s->session = NULL;
    }

    s->state = FREE;
    active--;
}


/* ----------------------------------------------------- device requests */


static coap_pdu_code_t
uplink_code(int result, coap_pdu_code_t method, int dtls)
{
    switch (result) {

    case RES_OK:
        return (method == COAP_REQUEST_CODE_PUT) ? COAP_RESPONSE_CODE_CHANGED
                                                 : COAP_RESPONSE_CODE_CREATED;

    case RES_UNKNOWN:
        return dtls ? COAP_RESPONSE_CODE_FORBIDDEN
                    : COAP_RESPONSE_CODE_UNAUTHORIZED;

    case RES_TOO_LARGE:
        return COAP_RESPONSE_CODE_REQUEST_TOO_LARGE;

    case RES_BAD:
        return COAP_RESPONSE_CODE_BAD_REQUEST;

    default:
        return COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
    }
}


/*
 * The answer to a request that waited for nginx: libcoap calls the
 * handler again once the async is triggered (a separate response: the
 * device had its empty ACK at once).
 */

static int
answer_async(coap_session_t *session, const coap_pdu_t *request,
    coap_pdu_t *response)
{
    coap_async_t  *async;
    slot_t        *s;

    async = coap_find_async(session, coap_pdu_get_token(request));

    if (async == NULL) {
        return 0;
    }

    s = coap_async_get_app_data(async);

    if (s == NULL || s->state != READY) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
        return 1;
    }

    coap_pdu_set_code(response, s->code);

    if (s->code == COAP_RESPONSE_CODE_CONTENT) {
        uint8_t  buf[4];

        coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                        coap_encode_var_safe(buf, sizeof(buf), OCTET_STREAM),
                        buf);
        coap_add_data(response, s->len, s->payload);
    }

    if (s->type == T_PULL && s->code == COAP_RESPONSE_CODE_CONTENT) {
        /* out to the device: nginx marks it delivered (retried) */
        uint8_t  *p, *end;

        s->type = T_PULLED;
        s->state = WAITING;
        s->tries = 1;
        s->deadline = now_ms() + LINK_TIMEOUT;

        end = s->frame + LINK_MAX - LINK_MAC;
        p = frame_start(s->frame, T_PULLED, s->seq);
        p = put_u64(p, end, F_DOWNLINK, s->downlink);
        p = put_u64(p, end, F_DEVICE, s->device);
        s->frame_len = frame_end(s->frame, p);

        link_send(s->frame, s->frame_len);

        /* the session is no longer needed by this slot */
        answered[nanswered++] = (unsigned) (s - slots) | 0x80000000u;
        return 1;
    }

    answered[nanswered++] = (unsigned) (s - slots);

    return 1;
}


static void uplink_defer(slot_t *s, const coap_pdu_t *request,
    coap_pdu_t *response);


/* a request to nginx; the device waits for its answer */

static void
ask(coap_session_t *session, const coap_pdu_t *request, coap_pdu_t *response,
    int type)
{
    const uint8_t   *data;
    coap_string_t   *path;
    coap_pdu_code_t  method;
    coap_async_t    *async;
    const coap_bin_const_t  *id;
    coap_bin_const_t  token;
    slot_t          *s;
    uint8_t          frame[LINK_MAX], *p, *end, port[2];
    size_t           len, offset, total, flen;
    int             *k;

    method = coap_pdu_get_code(request);

    len = 0;
    total = 0;
    data = (const uint8_t *) "";

    if (type == T_UPLINK
        && !coap_get_data_large(request, &len, &data, &offset, &total))
    {
        len = 0;
        total = 0;
        data = (const uint8_t *) "";
    }

    if (total > PAYLOAD_MAX || len > PAYLOAD_MAX) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_REQUEST_TOO_LARGE);
        return;
    }

    s = slot_new();

    if (s == NULL) {
        say(1, "too many requests wait for nginx: 5.03");
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
        return;
    }

    s->type = type;

    end = frame + LINK_MAX - LINK_MAC;
    p = frame_start(frame, type, s->seq);
    p = put_addr(p, end, coap_session_get_addr_remote(session));

    port[0] = (uint8_t) (coap_port >> 8);
    port[1] = (uint8_t) coap_port;
    p = put_field(p, end, F_LOCAL_PORT, port, 2);

    id = coap_session_get_psk_identity(session);

    if (id && id->length) {
        p = put_field(p, end, F_IDENTITY, id->s, id->length);
    }

    if (type == T_UPLINK) {
        p = put_field(p, end, F_METHOD,
                      method == COAP_REQUEST_CODE_PUT ? "PUT" : "POST",
                      method == COAP_REQUEST_CODE_PUT ? 3 : 4);

        path = coap_get_uri_path(request);

        if (path && path->length) {
            p = put_field(p, end, F_PATH, path->s, path->length);
        }

        if (path) {
            coap_delete_string(path);
        }

        p = put_field(p, end, F_PAYLOAD, data, len);
    }

    flen = frame_end(frame, p);

    if (flen == 0) {
        /* the frame could not be made */
        slot_free(s);
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
        return;
    }

    /* nginx not there: 5.03 when the link's port refuses (nginx_gone()) */
    link_send(frame, flen);

    s->code = method;          /* the method, until the answer */

    if (type == T_UPLINK) {
        /* answered by uplink_answer(): no async, see uplink_find() */
        token = coap_pdu_get_token(request);

        s->con = (coap_pdu_get_type(request) == COAP_MESSAGE_CON);
        s->mid = (uint16_t) coap_pdu_get_mid(request);
        s->ack_by = now_ms() + ACK_WAIT;
        s->token_len = (token.length < sizeof(s->token)
                        ? token.length : sizeof(s->token));
        memcpy(s->token, token.s, s->token_len);
        s->session = coap_session_reference(session);

        k = &uplinks[uplink_hash(session, s->token, s->token_len)];
        s->next = *k;
        *k = (int) (s - slots) + 1;

        uplink_defer(s, request, response);
        return;
    }

    async = coap_register_async(session, request, 0);

    if (async == NULL) {
        slot_free(s);
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
        return;
    }

    s->async = async;
    s->session = coap_session_reference(session);
    coap_async_set_app_data(async, s);

    /* no code: an empty ACK now if the request was confirmable */
}


/*
 * An uplink's handler returns before nginx answers.  A confirmable
 * request is not acknowledged yet: libcoap drops the empty response (a
 * non-confirmable 0.00), and the answer goes in the ACK (piggy-backed)
 * once nginx has it, or after an empty ACK (expire(), after ACK_WAIT) as
 * a separate response.  A block-wise request, whose answer libcoap
 * completes with its Block1 option, gets the empty ACK at once.
 */

static void
uplink_defer(slot_t *s, const coap_pdu_t *request, coap_pdu_t *response)
{
    coap_opt_iterator_t  it;

    if (!s->con || s->acked) {
        coap_pdu_set_type(response, COAP_MESSAGE_NON);
        return;
    }

    if (coap_check_option(request, COAP_OPTION_BLOCK1, &it) != NULL) {
        /* no code: libcoap sends the empty ACK */
        s->acked = 1;
        return;
    }

    coap_pdu_set_type(response, COAP_MESSAGE_NON);
}


/* a confirmable uplink that waits too long: the empty ACK */

static void
uplink_ack(slot_t *s)
{
    coap_pdu_t  *pdu;

    s->acked = 1;

    pdu = coap_pdu_init(COAP_MESSAGE_ACK, 0, s->mid,
                        coap_session_max_pdu_size(s->session));

    if (pdu == NULL || coap_send(s->session, pdu) == COAP_INVALID_MID) {
        say(1, "an empty ACK could not be sent");
    }
}


/*
 * nginx's answer to an uplink (or 5.03 without one): in the ACK if the
 * request is not acknowledged yet, else a separate response, confirmable
 * if the request was (libcoap retransmits it until the device
 * acknowledges it).
 */

static void
uplink_answer(slot_t *s)
{
    coap_pdu_t  *pdu;

    if (s->con && !s->acked) {
        pdu = coap_pdu_init(COAP_MESSAGE_ACK, s->code, s->mid,
                            coap_session_max_pdu_size(s->session));

    } else {
        pdu = coap_pdu_init(s->con ? COAP_MESSAGE_CON : COAP_MESSAGE_NON,
                            s->code, coap_new_message_id(s->session),
                            coap_session_max_pdu_size(s->session));
    }

    if (pdu == NULL || !coap_add_token(pdu, s->token_len, s->token)) {
        say(1, "an uplink's answer could not be made");

        if (pdu) {
            coap_delete_pdu(pdu);
        }

    } else if (coap_send(s->session, pdu) == COAP_INVALID_MID) {
        say(1, "an uplink's answer could not be sent");
    }

    slot_free(s);
}


static void
hnd_uplink(coap_resource_t *resource, coap_session_t *session,
    const coap_pdu_t *request, const coap_string_t *query,
    coap_pdu_t *response)
{
    slot_t  *s;

    s = uplink_find(session, coap_pdu_get_token(request));

    if (s) {
        /* sent again while nginx has it: the empty ACK again, if sent */
        if (!s->acked) {
            coap_pdu_set_type(response, COAP_MESSAGE_NON);
        }

        return;
    }

    ask(session, request, response, T_UPLINK);
}


static void
hnd_pull(coap_resource_t *resource, coap_session_t *session,
    const coap_pdu_t *request, const coap_string_t *query,
    coap_pdu_t *response)
{
    if (answer_async(session, request, response)) {
        return;
    }

    ask(session, request, response, T_PULL);
}


/* ------------------------------------------------------------ coap-push */


static push_t *
push_find(const coap_pdu_t *pdu)
{
    coap_bin_const_t  token;
    uint64_t          id;
    unsigned          i;
    size_t            k;

    if (pdu == NULL) {
        return NULL;
    }

    token = coap_pdu_get_token(pdu);

    if (token.length != 8) {
        return NULL;
    }

    id = 0;

    for (k = 0; k < 8; k++) {
        id = (id << 8) | token.s[k];
    }

    for (i = 0; i < PUSHES; i++) {
        if (pushes[i].used && !pushes[i].done && pushes[i].downlink == id) {
            return &pushes[i];
        }
    }

    return NULL;
}


/* the outcome to nginx (sent again until it confirms) */

static void
push_report(push_t *p, int result, int code)
{
    slot_t   *s;
    uint8_t  *q, *end, c;

    p->done = 1;

    s = slot_new();

    if (s == NULL) {
        say(1, "no room to report a coap-push; it goes again later");
        return;
    }

    s->type = T_PUSHED;
    s->tries = 1;

    end = s->frame + LINK_MAX - LINK_MAC;
    q = frame_start(s->frame, T_PUSHED, s->seq);
    c = (uint8_t) result;
    q = put_field(q, end, F_RESULT, &c, 1);
    q = put_u64(q, end, F_DOWNLINK, p->downlink);
    q = put_u64(q, end, F_DEVICE, p->device);

    if (code >= 0) {
        c = (uint8_t) code;
        q = put_field(q, end, F_CODE, &c, 1);
    }

    s->frame_len = frame_end(s->frame, q);

    link_send(s->frame, s->frame_len);
}


static coap_response_t
push_response(coap_session_t *session, const coap_pdu_t *sent,
    const coap_pdu_t *received, const coap_mid_t mid)
{
    push_t           *p;
    coap_pdu_code_t   code;

    p = push_find(sent ? sent : received);

    if (p == NULL) {
        p = push_find(received);
    }

    if (p == NULL) {
        return COAP_RESPONSE_OK;
    }

    code = coap_pdu_get_code(received);

    if (code == 0) {
        /* an empty ACK: the answer follows separately */
        return COAP_RESPONSE_OK;
    }

    push_report(p, (code >> 5) == 2 ? RES_OK : RES_REFUSED, (int) code);

    return COAP_RESPONSE_OK;
}


static void
push_nack(coap_session_t *session, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
    push_t  *p;

    p = push_find(sent);

    if (p == NULL) {
        return;
    }

    push_report(p, reason == COAP_NACK_RST ? RES_REFUSED : RES_NO_ANSWER, -1);
}


/* a queued coap-push from nginx: a confirmable POST to its device */

static void
push_start(frame_t *f)
{
    coap_address_t     dst;
    coap_session_t    *session;
    coap_pdu_t        *pdu;
    coap_fixed_point_t  timeout;
    push_t            *p;
    uint8_t            token[8], buf[4];
    const uint8_t     *seg, *end, *slash;
    unsigned           i;
    int                k;

    for (i = 0; i < PUSHES && pushes[i].used; i++) {
        /* void */
    }

    if (i == PUSHES) {
        return;
    }

    p = &pushes[i];
    memset(p, 0, sizeof(push_t));
    p->used = 1;
    p->downlink = f->downlink;
    p->device = f->device;
    npushes++;

    if (!f->has_addr) {
        push_report(p, RES_NO_ADDRESS, -1);
        return;
    }

    coap_address_init(&dst);
    dst.addr.sin.sin_family = AF_INET;
    dst.addr.sin.sin_port = htons(f->port ? f->port : 5683);
    memcpy(&dst.addr.sin.sin_addr, f->addr, 4);
    dst.size = sizeof(struct sockaddr_in);

    /* the device's own session (from our port 5683) if it has one */
    session = coap_session_get_by_peer(coap_ctx, &dst, 0);

    if (session) {
        session = coap_session_reference(session);

    } else {
        session = coap_new_client_session(coap_ctx, NULL, &dst,
                                          COAP_PROTO_UDP);
    }

    if (session == NULL) {
        push_report(p, RES_NO_ANSWER, -1);
        return;
    }

    p->session = session;

    timeout.integer_part = ack_timeout_ms / 1000;
    timeout.fractional_part = ack_timeout_ms % 1000;
    coap_session_set_ack_timeout(session, timeout);
    coap_session_set_max_retransmit(session, (uint16_t) max_retransmit);

    pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST,
                        coap_new_message_id(session),
                        coap_session_max_pdu_size(session));

    if (pdu == NULL) {
        push_report(p, RES_NO_ANSWER, -1);
        return;
    }

    for (k = 0; k < 8; k++) {
        token[k] = (uint8_t) (f->downlink >> (56 - 8 * k));
    }

    coap_add_token(pdu, 8, token);

    seg = f->path;
    end = f->path + f->path_len;

    while (seg && seg < end) {
        slash = memchr(seg, '/', end - seg);

        if (slash == NULL) {
            slash = end;
        }

        if (slash > seg) {
            coap_add_option(pdu, COAP_OPTION_URI_PATH, slash - seg, seg);
        }

        seg = slash + 1;
    }

    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof(buf), OCTET_STREAM),
                    buf);

    coap_add_data(pdu, f->payload_len, f->payload ? f->payload
                                                  : (const uint8_t *) "");

    if (coap_send(session, pdu) == COAP_INVALID_MID) {
        push_report(p, RES_NO_ANSWER, -1);
    }
}


static void
push_polled(frame_t *f)
{
    if (f->result != RES_OK || f->downlink == 0) {
        push_next_poll = now_ms() + PUSH_POLL_EVERY;
        return;
    }

    if (f->downlink > push_after) {
        push_after = f->downlink;
    }

    push_start(f);

    /* there may be more: ask again at once */
    push_next_poll = 0;
}


static void
push_poll(void)
{
    slot_t   *s;
    uint8_t  *q, *end;
    unsigned  i;

    /* answered pushes give their sessions back, outside libcoap's calls */

    for (i = 0; i < PUSHES; i++) {
        if (pushes[i].used && pushes[i].done) {
            if (pushes[i].session) {
                coap_session_release(pushes[i].session);
            }

            pushes[i].used = 0;
            npushes--;
        }
    }

    if (push_polling || npushes >= PUSHES || now_ms() < push_next_poll) {
        return;
    }

    s = slot_new();

    if (s == NULL) {
        return;
    }

    s->type = T_PUSH_POLL;
    s->deadline = now_ms() + 1000;

    end = s->frame + LINK_MAX - LINK_MAC;
    q = frame_start(s->frame, T_PUSH_POLL, s->seq);
    q = put_u64(q, end, F_DOWNLINK, push_after);
    s->frame_len = frame_end(s->frame, q);

    if (s->frame_len == 0) {
        slot_free(s);
        return;
    }

    push_polling = 1;
    push_next_poll = now_ms() + PUSH_POLL_EVERY;

    link_send(s->frame, s->frame_len);
}


/* the answer is known: to the device */

static void
slot_answer(slot_t *s)
{
    if (s->type == T_UPLINK) {
        uplink_answer(s);
        return;
    }

    /* a pull: libcoap calls hnd_pull() again for it */
    s->state = READY;
    coap_async_trigger(s->async);
}


/* the link's port refused a frame: nothing waiting will be answered */

static void
nginx_gone(void)
{
    unsigned   i;
    slot_t    *s;

    say(1, "nginx does not listen on the link: 5.03 to the devices");

    for (i = 0; i < SLOTS && active; i++) {
        s = &slots[i];

        if (s->state != WAITING || s->type == T_PULLED
            || s->type == T_PUSHED || s->type == T_PUSH_POLL)
        {
            if (s->type == T_PUSH_POLL && s->state == WAITING) {
                slot_free(s);
                push_polling = 0;
            }

            continue;
        }

        s->code = COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
        slot_answer(s);
    }
}


/* nginx's replies: each completes its slot */

static void link_reply(frame_t *f);


static void
link_read(void)
{
    static uint8_t  buf[LINK_DATAGRAM + 1];
    ssize_t         n;
    size_t          off;
    frame_t         f;

    for ( ;; ) {
        n = recv(link_fd, buf, sizeof(buf), 0);

        if (n < 0) {
            if (errno == ECONNREFUSED) {
                /* nginx is not there: who waits gets 5.03 now */
                nginx_gone();
                continue;
            }

            return;
        }

        for (off = 0; off < (size_t) n; off += f.size) {
            if (frame_parse(buf + off, (size_t) n - off, &f) != 0) {
                say(1, "a link frame from nginx that does not verify, "
                    "dropped");
                break;
            }

            link_reply(&f);
        }
    }
}


/* one of nginx's replies: it completes its slot */

static void
link_reply(frame_t *f)
{
    slot_t  *s;
    int      dtls;

    s = &slots[f->seq % SLOTS];

    if (s->state != WAITING || s->seq != f->seq || f->type != s->type + 1) {
        /* an answer that came too late */
        return;
    }

    if (s->type == T_PULLED || s->type == T_PUSHED) {
        slot_free(s);
        return;
    }

    if (s->type == T_PUSH_POLL) {
        slot_free(s);
        push_polling = 0;
        push_polled(f);
        return;
    }

    dtls = s->session
           && coap_session_get_proto(s->session) == COAP_PROTO_DTLS;

    if (s->type == T_UPLINK) {
        s->code = uplink_code(f->result, s->code, dtls);

    } else if (f->result == RES_OK && f->payload
               && f->payload_len <= PAYLOAD_MAX)
    {
        s->code = COAP_RESPONSE_CODE_CONTENT;
        memcpy(s->payload, f->payload, f->payload_len);
        s->len = f->payload_len;
        s->downlink = f->downlink;
        s->device = f->device;

    } else if (f->result == RES_EMPTY) {
        s->code = COAP_RESPONSE_CODE_NOT_FOUND;

    } else if (f->result == RES_UNKNOWN) {
        s->code = dtls ? COAP_RESPONSE_CODE_FORBIDDEN
                       : COAP_RESPONSE_CODE_UNAUTHORIZED;

    } else {
        s->code = COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
    }

    slot_answer(s);
}


/* requests nginx did not answer in time: 5.03; PULLED: sent again */

static void
expire(void)
{
    static uint64_t  last;
    uint64_t         now;
    unsigned         i;
    slot_t          *s;

    now = now_ms();

    if (active == 0 || now - last < 100) {
        return;
    }

    last = now;

    for (i = 0; i < SLOTS; i++) {
        s = &slots[i];

        if (s->state == WAITING && s->type == T_UPLINK && s->con
            && !s->acked && s->ack_by <= now)
        {
            uplink_ack(s);
        }

        if (s->state != WAITING || s->deadline > now) {
            continue;
        }

        if (s->type == T_PUSH_POLL) {
            slot_free(s);
            push_polling = 0;
            continue;
        }

        if (s->type == T_PULLED || s->type == T_PUSHED) {
            if (s->tries++ < 3) {
                s->deadline = now + LINK_TIMEOUT;
                link_send(s->frame, s->frame_len);

            } else {
                say(1, "nginx did not confirm a pulled downlink; the "
                    "device may get it again");
                slot_free(s);
            }

            continue;
        }

        say(1, "nginx did not answer in time: 5.03");
        s->code = COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE;
        slot_answer(s);
    }
}


static void
release_answered(void)
{
    unsigned   i, k;
    slot_t    *s;

    for (i = 0; i < nanswered; i++) {
        k = answered[i];
        s = &slots[k & 0x7fffffffu];

        if (k & 0x80000000u) {
            /* still waits for nginx's confirmation, without the device */
            if (s->session) {
                coap_session_release(s->session);
                s->session = NULL;
            }

            s->async = NULL;
            continue;
        }

        slot_free(s);
    }

    nanswered = 0;
}


/* ------------------------------------------------------------- DTLS-PSK */


/*
 * A handshake asks nginx for the identity's key, on a socket of its own,
 * and waits for the answer (a loopback round trip): libcoap wants the key
 * from this callback.  The key is kept by libcoap for this handshake only,
 * so a rotated key counts from the next handshake.
 */

static const coap_bin_const_t *
psk_key(coap_bin_const_t *identity, coap_session_t *session, void *arg)
{
    static coap_bin_const_t  key;
    static uint8_t           keybuf[256];
    uint8_t                  frame[LINK_MAX], *p, *end;
    size_t                   flen, off;
    ssize_t                  n;
    uint32_t                 seq;
    uint64_t                 deadline, now;
    frame_t                  f;
    struct pollfd            pfd;
    static uint8_t           buf[LINK_DATAGRAM + 1];

    if (identity == NULL || identity->length == 0 || identity->length > 255) {
        return NULL;
    }

    seq = ++next_seq;

    end = frame + LINK_MAX - LINK_MAC;
    p = frame_start(frame, T_KEY, seq);
    p = put_field(p, end, F_IDENTITY, identity->s, identity->length);
    flen = frame_end(frame, p);

    if (flen == 0 || send(key_fd, frame, flen, 0) != (ssize_t) flen) {
        say(1, "a PSK identity could not be asked of nginx");
        return NULL;
    }

    deadline = now_ms() + LINK_KEY_TIMEOUT;

    for ( ;; ) {
        now = now_ms();

        if (now >= deadline) {
            say(1, "nginx did not answer for a PSK identity in time");
            return NULL;
        }

        pfd.fd = key_fd;
        pfd.events = POLLIN;

        if (poll(&pfd, 1, (int) (deadline - now)) <= 0) {
            continue;
        }

        n = recv(key_fd, buf, sizeof(buf), 0);

        if (n < 0) {
            if (errno == ECONNREFUSED) {
                say(1, "nginx is not there for a PSK identity");
                return NULL;
            }

            continue;
        }

        /* its own socket: this reply, or a late one of an earlier ask */

        for (off = 0; off < (size_t) n; off += f.size) {
            if (frame_parse(buf + off, (size_t) n - off, &f) != 0) {
                off = (size_t) n;
                break;
            }

            if (f.seq == seq && f.type == T_KEY + 1) {
                break;
            }
        }

        if (off >= (size_t) n) {
            continue;
        }

        if (f.result != RES_OK || f.key == NULL || f.key_len == 0
            || f.key_len > sizeof(keybuf))
        {
            say(2, "a handshake with an unknown PSK identity refused");
            return NULL;
        }

        memcpy(keybuf, f.key, f.key_len);
        key.s = keybuf;
        key.length = f.key_len;

        return &key;
    }
}


/* ---------------------------------------------------------------- main */


static int
read_secret(const char *path)
{
    struct stat  st;
    FILE        *fp;
    size_t       n;

    fp = fopen(path, "r");

    if (fp == NULL) {
        say(0, "cannot open the link secret %s: %s", path, strerror(errno));
        return -1;
    }

    if (fstat(fileno(fp), &st) != 0 || (st.st_mode & 077) != 0) {
        say(0, "the link secret %s must be for its owner alone (mode 0600)",
            path);
        fclose(fp);
        return -1;
    }

    n = fread(secret, 1, sizeof(secret), fp);
    fclose(fp);

    while (n && (secret[n - 1] == '\n' || secret[n - 1] == '\r')) {
        n--;
    }

    if (memchr(secret, '\n', n)) {
        n = (uint8_t *) memchr(secret, '\n', n) - secret;
    }

    if (n < 16) {
        say(0, "the link secret %s must be 16 characters at least", path);
        return -1;
    }

    secret_len = n;

    return 0;
}


static int
link_open(const char *spec)
{
    char              host[256], *colon;
    struct addrinfo   hints, *ai;
    int               fd;

    snprintf(host, sizeof(host), "%s", spec);
    colon = strrchr(host, ':');

    if (colon == NULL) {
        say(0, "-l wants host:port, not %s", spec);
        return -1;
    }

    *colon = '\0';

    if (host[0] == '[') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;

    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
        say(0, "the link address %s is not a numeric host:port", spec);
        return -1;
    }

    fd = socket(ai->ai_family, SOCK_DGRAM, 0);

    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        say(0, "cannot set up the link to %s: %s", spec, strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }

    freeaddrinfo(ai);

    (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    return fd;
}


/*
 * A burst of devices overflows the kernel's default receive buffer (about
 * 200 KB, a few hundred datagrams): the device ports and the link get a
 * larger one.  libcoap does not hand out its endpoints' sockets, so they
 * are found among ours by the port they are bound to.  As root the buffer
 * may exceed net.core.rmem_max (SO_RCVBUFFORCE).
 */

static void
grow_rcvbuf(int fd)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf))
        != 0)
    {
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
}


static void
grow_endpoints(uint16_t port)
{
    struct sockaddr_storage  ss;
    socklen_t                len;
    int                      fd, type;

    for (fd = 3; fd < 1024; fd++) {
        len = sizeof(type);

        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0
            || type != SOCK_DGRAM)
        {
            continue;
        }

        len = sizeof(ss);

        if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0) {
            continue;
        }

        if ((ss.ss_family == AF_INET
             && ntohs(((struct sockaddr_in *) &ss)->sin_port) == port)
            || (ss.ss_family == AF_INET6
                && ntohs(((struct sockaddr_in6 *) &ss)->sin6_port) == port))
        {
            grow_rcvbuf(fd);
        }
    }
}


static void
on_signal(int signo)
{
    (void) signo;
    quit = 1;
}


static int
endpoint(coap_context_t *ctx, const char *host, uint16_t port,
    coap_proto_t proto)
{
    coap_address_t   addr;
    struct addrinfo  hints, *ai;
    char             p[8];

    snprintf(p, sizeof(p), "%u", port);

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;

    if (getaddrinfo(host, p, &hints, &ai) != 0) {
        say(0, "the listen address %s is not numeric", host);
        return -1;
    }

    coap_address_init(&addr);
    addr.size = ai->ai_addrlen;
    memcpy(&addr.addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);

    if (coap_new_endpoint(ctx, &addr, proto) == NULL) {
        say(0, "cannot listen on %s port %u", host, port);
        return -1;
    }

    return 0;
}


/*
 * The event loop, with libcoap's epoll descriptor in it.  libcoap's own
 * coap_io_process() walks every session (and every async) before each
 * datagram it reads; here its timers (retransmissions, idle sessions,
 * DTLS, triggered pulls) run when its timer fires or every
 * PREPARE_EVERY ms, and datagrams are read in rounds between them.
 */

static void
serve(coap_context_t *ctx, int coap_fd)
{
    int                 ep, n, m, i, j, k, b, round, timer;
    uint64_t            now, next_prepare;
    coap_tick_t         ticks;
    struct epoll_event  ev, evs[2], cevs[EVENTS];
    static struct epoll_event  burst[EVENTS * BURST];

    ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep < 0) {
        say(0, "epoll_create1() failed: %s", strerror(errno));
        return;
    }

    ev.events = EPOLLIN;
    ev.data.fd = coap_fd;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, coap_fd, &ev) != 0) {
        say(0, "epoll_ctl() failed: %s", strerror(errno));
        close(ep);
        return;
    }

    ev.events = EPOLLIN;
    ev.data.fd = link_fd;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, link_fd, &ev) != 0) {
        say(0, "epoll_ctl() failed: %s", strerror(errno));
        close(ep);
        return;
    }

    next_prepare = 0;

    while (!quit) {
        now = now_ms();

        if (now >= next_prepare) {
            coap_ticks(&ticks);
            coap_io_prepare_epoll(ctx, ticks);
            next_prepare = now + PREPARE_EVERY;
        }

        n = epoll_wait(ep, evs, 2, (int) (next_prepare - now));

        for (i = 0; i < n; i++) {
            if (evs[i].data.fd == link_fd) {
                link_read();
                continue;
            }

            /* the device ports: a datagram per event, some rounds */

            timer = 0;

            for (round = 0; round < EVENTS; round++) {
                m = epoll_wait(coap_fd, cevs, EVENTS, 0);

                if (m <= 0) {
                    break;
                }

                /*
                 * coap_io_do_epoll() walks every session after its events
                 * (it re-arms its timer): a readable socket's event is
                 * given BURST times, so that the walk is once for up to
                 * BURST datagrams; the reads that find nothing are
                 * quiet (libcoap warns of them, a formatted line each).
                 */

                k = 0;

                for (j = 0; j < m; j++) {
                    if (cevs[j].data.ptr == NULL) {
                        timer = 1;
                        burst[k++] = cevs[j];
                        continue;
                    }

                    for (b = 0; b < BURST; b++) {
                        burst[k++] = cevs[j];
                    }
                }

                if (verbose < 3) {
                    coap_set_log_level(LOG_ERR);
                }

                coap_io_do_epoll(ctx, burst, (size_t) k);

                if (verbose < 3) {
                    coap_set_log_level(LOG_WARNING);
                }

                release_answered();
                link_flush();

                if (timer) {
                    break;
                }
            }

            if (timer) {
                /* reads and re-arms libcoap's timer */
                next_prepare = 0;
            }
        }

        release_answered();
        expire();
        push_poll();
        link_flush();
    }

    close(ep);
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: iot-coap-sidecar -s SECRET_FILE [-l 127.0.0.1:5690]\n"
        "           [-a LISTEN_ADDRESS] [-p 5683] [-P PIDFILE] [-v LEVEL]\n"
        "           [-T ACK_TIMEOUT_SECONDS] [-R MAX_RETRANSMIT] [-b RCVBUF]\n"
        "  CoAP on port -p, CoAP over DTLS-PSK on the next port; the link\n"
        "  to nginx's iot_coap_link server at -l (docs/coap.md)\n");
}


int
main(int argc, char **argv)
{
    coap_context_t    *ctx;
    coap_resource_t   *r;
    coap_dtls_spsk_t   psk;
    const char        *listen_addr, *link_spec, *secret_file, *pidfile;
    struct sigaction   sa;
    FILE              *fp;
    int                c, coap_fd;

    listen_addr = "0.0.0.0";
    link_spec = "127.0.0.1:5690";
    secret_file = NULL;
    pidfile = NULL;

    while ((c = getopt(argc, argv, "a:b:l:p:s:P:v:T:R:h")) != -1) {
        switch (c) {
        case 'b': rcvbuf = atoi(optarg); break;
        case 'T': ack_timeout_ms = (unsigned) (atof(optarg) * 1000); break;
        case 'R': max_retransmit = atoi(optarg); break;
        case 'a': listen_addr = optarg; break;
        case 'l': link_spec = optarg; break;
        case 'p': coap_port = (uint16_t) atoi(optarg); break;
        case 's': secret_file = optarg; break;
        case 'P': pidfile = optarg; break;
        case 'v': verbose = atoi(optarg); break;
        default: usage(); return 2;
        }
    }

    if (secret_file == NULL || coap_port == 0 || coap_port == 65535) {
        usage();
        return 2;
    }

    if (read_secret(secret_file) != 0) {
        return 1;
    }

    if (mac_setup() != 0) {
        say(0, "cannot set up HMAC-SHA256");
        return 1;
    }

    link_fd = link_open(link_spec);
    key_fd = link_open(link_spec);

    if (link_fd < 0 || key_fd < 0) {
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    coap_startup();
    coap_set_log_level(verbose >= 3 ? LOG_DEBUG : LOG_WARNING);

    ctx = coap_new_context(NULL);

    if (ctx == NULL) {
        say(0, "cannot make a CoAP context");
        return 1;
    }

    coap_ctx = ctx;
    coap_register_response_handler(ctx, push_response);
    coap_register_nack_handler(ctx, push_nack);

    coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP
                                     | COAP_BLOCK_SINGLE_BODY);

    if (!coap_dtls_is_supported()) {
        say(0, "this libcoap has no DTLS (link libcoap-3-openssl)");
        return 1;
    }

    memset(&psk, 0, sizeof(psk));
    psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
    psk.validate_id_call_back = psk_key;

    if (!coap_context_set_psk2(ctx, &psk)) {
        say(0, "cannot set up DTLS-PSK");
        return 1;
    }

    if (endpoint(ctx, listen_addr, coap_port, COAP_PROTO_UDP) != 0
        || endpoint(ctx, listen_addr, coap_port + 1, COAP_PROTO_DTLS) != 0)
    {
        return 1;
    }

    if (rcvbuf > 0) {
        grow_endpoints(coap_port);
        grow_endpoints(coap_port + 1);
        grow_rcvbuf(link_fd);
    }

    /* every path but the reserved /.well-known/core (libcoap answers it) */
    r = coap_resource_unknown_init2(hnd_uplink, 0);
    coap_register_request_handler(r, COAP_REQUEST_POST, hnd_uplink);
    coap_register_request_handler(r, COAP_REQUEST_GET, hnd_pull);
    coap_add_resource(ctx, r);

    r = coap_resource_init(NULL, 0);
    coap_register_request_handler(r, COAP_REQUEST_POST, hnd_uplink);
    coap_register_request_handler(r, COAP_REQUEST_PUT, hnd_uplink);
    coap_register_request_handler(r, COAP_REQUEST_GET, hnd_pull);
    coap_add_resource(ctx, r);

    if (pidfile) {
        fp = fopen(pidfile, "w");

        if (fp == NULL) {
            say(0, "cannot write %s: %s", pidfile, strerror(errno));
            return 1;
        }

        fprintf(fp, "%ld\n", (long) getpid());
        fclose(fp);
    }

    say(1, "CoAP on %s port %u, DTLS-PSK on %u, link to nginx at %s",
        listen_addr, coap_port, coap_port + 1, link_spec);

    coap_fd = coap_context_get_coap_fd(ctx);

    if (coap_fd >= 0) {
        serve(ctx, coap_fd);

    } else {
        while (!quit) {
            coap_io_process(ctx, 50);
            link_read();
            coap_io_process(ctx, COAP_IO_NO_WAIT);
            release_answered();
            expire();
            push_poll();
        }
    }

    if (pidfile) {
        unlink(pidfile);
    }

    for (c = 0; c < SLOTS; c++) {
        if (slots[c].session) {
            coap_session_release(slots[c].session);
            slots[c].session = NULL;
        }
    }

    for (c = 0; c < PUSHES; c++) {
        if (pushes[c].used && pushes[c].session) {
            coap_session_release(pushes[c].session);
        }
    }

    coap_free_context(ctx);
    coap_cleanup();

    EVP_MAC_CTX_free(mac_ctx);

    return 0;
}
