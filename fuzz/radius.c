
/*
 * Copyright (C) nginx-iot authors
 *
 * RADIUS datagrams (ngx_iot_radius.c): the parser with its 3GPP
 * Vendor-Specific attributes, the Request Authenticator and
 * Message-Authenticator checks, the reply built from a request, the
 * IMEISV and MSISDN digits and the IMSI, as ngx_stream_iot_radius.c uses
 * them.  The input is a datagram; a packet that parses is also signed
 * with the test secret, so that the checks pass and the code after them
 * runs, and must then verify (an invariant).
 */


#include "ngx_fuzz.h"
#include <ngx_md5.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include "ngx_iot.h"
#include "ngx_iot_id.h"
#include "ngx_iot_session.h"
#include "ngx_iot_radius.h"


static ngx_str_t  ngx_fuzz_secret = ngx_string("testing123");


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_fuzz_init();
    return 0;
}


static void
ngx_fuzz_radius_use(ngx_iot_radius_packet_t *pkt)
{
    u_char     imeisv[NGX_IOT_IMEISV_MAX], msisdn[NGX_IOT_MSISDN_MAX];
    size_t     n;
    uint64_t   key;
    in_addr_t  addr;
    ssize_t    len;
    u_char     out[NGX_IOT_RADIUS_MAX_LEN];
    const char *why;
    ngx_iot_radius_packet_t  reply;

    n = ngx_iot_radius_digits(&pkt->imeisv, imeisv, NGX_IOT_IMEISV_MAX);
    if (n > NGX_IOT_IMEISV_MAX) {
        abort();
    }

    n = ngx_iot_radius_msisdn(&pkt->calling_station_id, msisdn,
                              NGX_IOT_MSISDN_MAX);
    if (n > NGX_IOT_MSISDN_MAX) {
        abort();
    }

    if (pkt->imsi.len) {
        (void) ngx_iot_ident_decode(pkt->imsi.data, pkt->imsi.len, &key);
    }

    ngx_log_error(NGX_LOG_INFO, &ngx_fuzz_log, 0,
                  "radius: %s %ui imsi:\"%V\" imeisv:\"%V\" user:\"%V\" "
                  "calling:\"%V\" called:\"%V\" nas:\"%V\" session:\"%V\" "
                  "location:\"%V\"", ngx_iot_radius_code_name(pkt->code),
                  pkt->id, &pkt->imsi, &pkt->imeisv, &pkt->user_name,
                  &pkt->calling_station_id, &pkt->called_station_id,
                  &pkt->nas_identifier, &pkt->acct_session_id,
                  &pkt->user_location);

    addr = htonl(0x0a000001);

    len = ngx_iot_radius_reply(pkt, pkt->code == 4
                                    ? NGX_IOT_RADIUS_ACCOUNTING_RESPONSE
                                    : NGX_IOT_RADIUS_ACCESS_ACCEPT,
                               pkt->code == 4 ? NULL : &addr,
                               &ngx_fuzz_secret, out, sizeof(out));

    if (len == NGX_ERROR) {
        return;
    }

    /* a reply we send is a packet a peer can parse */

    if (len < NGX_IOT_RADIUS_HEADER_LEN
        || ngx_iot_radius_parse(out, len, &reply, &why) != NGX_IOT_RADIUS_OK)
    {
        abort();
    }
}


/* signs the packet as a client that knows the secret would */

static void
ngx_fuzz_radius_sign(ngx_iot_radius_packet_t *pkt)
{
    unsigned    n;
    ngx_md5_t   md5;
    u_char      mac[EVP_MAX_MD_SIZE];

    static u_char  zero[16];

    if (pkt->code == NGX_IOT_RADIUS_ACCOUNTING_REQUEST) {
        ngx_memzero(pkt->authenticator, 16);
    }

    if (pkt->message_authenticator) {
        ngx_memzero(pkt->message_authenticator, 16);

        if (HMAC(EVP_md5(), ngx_fuzz_secret.data, (int) ngx_fuzz_secret.len,
                 pkt->data, pkt->len, mac, &n)
            == NULL)
        {
            abort();
        }

        ngx_memcpy(pkt->message_authenticator, mac, 16);
    }

    if (pkt->code == NGX_IOT_RADIUS_ACCOUNTING_REQUEST) {
        ngx_md5_init(&md5);
        ngx_md5_update(&md5, pkt->data, 4);
        ngx_md5_update(&md5, zero, 16);
        ngx_md5_update(&md5, pkt->data + NGX_IOT_RADIUS_HEADER_LEN,
                       pkt->len - NGX_IOT_RADIUS_HEADER_LEN);
        ngx_md5_update(&md5, ngx_fuzz_secret.data, ngx_fuzz_secret.len);
        ngx_md5_final(pkt->authenticator, &md5);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                   *buf;
    ngx_pool_t               *pool;
    const char               *why;
    ngx_iot_radius_rc_e       rc;
    ngx_iot_radius_packet_t   pkt;

    if (size > 65535) {
        return 0;
    }

    pool = ngx_fuzz_pool();
    buf = ngx_fuzz_copy(pool, data, size);

    rc = ngx_iot_radius_parse(buf, size, &pkt, &why);

    if (rc != NGX_IOT_RADIUS_OK) {
        ngx_log_error(NGX_LOG_INFO, &ngx_fuzz_log, 0, "malformed: %s", why);
        ngx_destroy_pool(pool);
        return 0;
    }

    (void) ngx_iot_radius_verify(&pkt, &ngx_fuzz_secret, 0, &why);
    (void) ngx_iot_radius_verify(&pkt, &ngx_fuzz_secret, 1, &why);

    if (pkt.code == NGX_IOT_RADIUS_ACCESS_REQUEST
        || pkt.code == NGX_IOT_RADIUS_ACCOUNTING_REQUEST)
    {
        ngx_fuzz_radius_sign(&pkt);

        rc = ngx_iot_radius_verify(&pkt, &ngx_fuzz_secret, 0, &why);

        if (rc != NGX_IOT_RADIUS_OK
            && !(rc == NGX_IOT_RADIUS_NO_MESSAGE_AUTHENTICATOR && pkt.has_eap))
        {
            /* signed with the secret, yet refused */
            abort();
        }
    }

    ngx_fuzz_radius_use(&pkt);

    ngx_destroy_pool(pool);

    return 0;
}
