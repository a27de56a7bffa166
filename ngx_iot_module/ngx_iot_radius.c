
/*
 * Copyright (C) nginx-iot authors
 *
 * The RADIUS codec: parsing with every length checked, the Request
 * Authenticator of accounting (RFC 2866), Message-Authenticator (RFC 2869,
 * RFC 3579) and the replies.  No state, no allocation, no logging.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_md5.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ngx_iot_radius.h"


#define NGX_IOT_RADIUS_MA_ATTR_LEN  (2 + NGX_IOT_RADIUS_AUTH_LEN)


static ngx_iot_radius_rc_e ngx_iot_radius_parse_3gpp(u_char *p, size_t len,
    ngx_iot_radius_packet_t *pkt, const char **why);
static ngx_int_t ngx_iot_radius_tlv(u_char **pp, u_char *last,
    ngx_uint_t *type, u_char **v, size_t *vlen);
static void ngx_iot_radius_text(ngx_str_t *dst, u_char *p, size_t len);
static ngx_int_t ngx_iot_radius_hmac(ngx_str_t *secret, u_char *data,
    size_t len, u_char *out);


static const u_char  ngx_iot_radius_zero[NGX_IOT_RADIUS_AUTH_LEN];


ngx_iot_radius_rc_e
ngx_iot_radius_parse(u_char *buf, size_t size, ngx_iot_radius_packet_t *pkt,
    const char **why)
{
    u_char               *p, *last, *v;
    size_t                len, vlen;
    uint32_t              vendor;
    ngx_int_t             step;
    ngx_uint_t            type;
    ngx_iot_radius_rc_e   rc;

    ngx_memzero(pkt, sizeof(ngx_iot_radius_packet_t));

    pkt->rat_type = -1;
    pkt->acct_status_type = -1;

    if (size < NGX_IOT_RADIUS_HEADER_LEN) {
        *why = "shorter than a RADIUS header";
        return NGX_IOT_RADIUS_MALFORMED;
    }

    len = (size_t) buf[2] << 8 | buf[3];

    if (len < NGX_IOT_RADIUS_HEADER_LEN || len > NGX_IOT_RADIUS_MAX_LEN) {
        *why = "Length field out of range";
        return NGX_IOT_RADIUS_MALFORMED;
    }

    if (len > size) {
        *why = "Length field beyond the end of the datagram";
        return NGX_IOT_RADIUS_MALFORMED;
    }

    /* octets past the Length field are padding (RFC 2865, section 3) */

    pkt->data = buf;
    pkt->len = len;
    pkt->code = buf[0];
    pkt->id = buf[1];
    pkt->authenticator = buf + 4;

    p = buf + NGX_IOT_RADIUS_HEADER_LEN;
    last = buf + len;

    while (p < last) {

        step = ngx_iot_radius_tlv(&p, last, &type, &v, &vlen);

        if (step != NGX_OK) {
            *why = (step == NGX_DECLINED) ? "truncated attribute"
                                          : "attribute length out of range";
            return NGX_IOT_RADIUS_MALFORMED;
        }

        switch (type) {

        case NGX_IOT_RADIUS_USER_NAME:
            ngx_iot_radius_text(&pkt->user_name, v, vlen);
            break;

        case NGX_IOT_RADIUS_NAS_IP_ADDRESS:
            /* only logged: a wrong length is ignored */
            if (vlen == 4 && !pkt->has_nas_ip) {
                ngx_memcpy(&pkt->nas_ip, v, 4);
                pkt->has_nas_ip = 1;
            }
            break;

        case NGX_IOT_RADIUS_FRAMED_IP_ADDRESS:
            if (vlen != 4) {
                *why = "Framed-IP-Address is not 4 octets";
                return NGX_IOT_RADIUS_MALFORMED;
            }

            if (!pkt->has_framed_ip) {
                ngx_memcpy(&pkt->framed_ip, v, 4);
                pkt->has_framed_ip = 1;
            }
            break;

        case NGX_IOT_RADIUS_VENDOR_SPECIFIC:
            if (vlen < 4) {
                *why = "Vendor-Specific shorter than a Vendor-Id";
                return NGX_IOT_RADIUS_MALFORMED;
            }

            vendor = (uint32_t) v[0] << 24 | (uint32_t) v[1] << 16
                     | (uint32_t) v[2] << 8 | v[3];

            /* other vendors may lay out their values as they like */

            if (vendor == NGX_IOT_RADIUS_VENDOR_3GPP) {
                rc = ngx_iot_radius_parse_3gpp(v + 4, vlen - 4, pkt, why);
                if (rc != NGX_IOT_RADIUS_OK) {
                    return rc;
                }
            }

            break;

        case NGX_IOT_RADIUS_CALLED_STATION_ID:
            ngx_iot_radius_text(&pkt->called_station_id, v, vlen);
            break;

        case NGX_IOT_RADIUS_CALLING_STATION_ID:
            ngx_iot_radius_text(&pkt->calling_station_id, v, vlen);
            break;

        case NGX_IOT_RADIUS_NAS_IDENTIFIER:
            ngx_iot_radius_text(&pkt->nas_identifier, v, vlen);
            break;

        case NGX_IOT_RADIUS_PROXY_STATE:
            pkt->proxy_state_len += vlen + 2;
            break;

        case NGX_IOT_RADIUS_ACCT_STATUS_TYPE:
            if (vlen != 4) {
                *why = "Acct-Status-Type is not 4 octets";
                return NGX_IOT_RADIUS_MALFORMED;
            }

            if (pkt->acct_status_type == -1) {
                pkt->acct_status_type = (ngx_int_t) ((uint32_t) v[0] << 24
                                                     | (uint32_t) v[1] << 16
                                                     | (uint32_t) v[2] << 8
                                                     | v[3]);
            }
            break;

        case NGX_IOT_RADIUS_ACCT_SESSION_ID:
            ngx_iot_radius_text(&pkt->acct_session_id, v, vlen);
            break;

        case NGX_IOT_RADIUS_EAP_MESSAGE:
            pkt->has_eap = 1;
            break;

        case NGX_IOT_RADIUS_MESSAGE_AUTHENTICATOR:
            if (vlen != NGX_IOT_RADIUS_AUTH_LEN) {
                *why = "Message-Authenticator is not 16 octets";
                return NGX_IOT_RADIUS_MALFORMED;
            }

            if (pkt->message_authenticator) {
                *why = "more than one Message-Authenticator";
                return NGX_IOT_RADIUS_MALFORMED;
            }

            pkt->message_authenticator = v;
            break;

        default:
            break;
        }
    }

    return NGX_IOT_RADIUS_OK;
}


/* 3GPP sub-attributes: type, length, value (TS 29.061, section 16.4.7) */

static ngx_iot_radius_rc_e
ngx_iot_radius_parse_3gpp(u_char *p, size_t len, ngx_iot_radius_packet_t *pkt,
    const char **why)
{
    u_char      *last, *v;
    size_t       vlen;
    ngx_int_t    step;
    ngx_uint_t   type;

    last = p + len;

    while (p < last) {

        step = ngx_iot_radius_tlv(&p, last, &type, &v, &vlen);

        if (step != NGX_OK) {
            *why = (step == NGX_DECLINED)
                   ? "truncated 3GPP sub-attribute"
                   : "3GPP sub-attribute length out of range";
            return NGX_IOT_RADIUS_MALFORMED;
        }

        switch (type) {

        case NGX_IOT_RADIUS_3GPP_IMSI:
            ngx_iot_radius_text(&pkt->imsi, v, vlen);
            break;

        case NGX_IOT_RADIUS_3GPP_IMEISV:
            ngx_iot_radius_text(&pkt->imeisv, v, vlen);
            break;

        case NGX_IOT_RADIUS_3GPP_RAT_TYPE:
            /* only logged: a wrong length is ignored */
            if (vlen == 1 && pkt->rat_type == -1) {
                pkt->rat_type = v[0];
            }
            break;

        case NGX_IOT_RADIUS_3GPP_USER_LOCATION:
            ngx_iot_radius_text(&pkt->user_location, v, vlen);
            break;

        default:
            break;
        }
    }

    return NGX_IOT_RADIUS_OK;
}


/* the first non-empty instance of an attribute wins */

/*
 * One type-length-value item (an attribute, or a 3GPP sub-attribute) and
 * a step past it.  NGX_DECLINED: fewer than two bytes left; NGX_ERROR: its
 * length is below 2 or beyond what is left.
 */

static ngx_int_t
ngx_iot_radius_tlv(u_char **pp, u_char *last, ngx_uint_t *type, u_char **v,
    size_t *vlen)
{
    u_char  *p;
    size_t   len;

    p = *pp;

    if (last - p < 2) {
        return NGX_DECLINED;
    }

    len = p[1];

    if (len < 2 || len > (size_t) (last - p)) {
        return NGX_ERROR;
    }

    *type = p[0];
    *v = p + 2;
    *vlen = len - 2;
    *pp = p + len;

    return NGX_OK;
}


static void
ngx_iot_radius_text(ngx_str_t *dst, u_char *p, size_t len)
{
    if (dst->data == NULL && len) {
        dst->data = p;
        dst->len = len;
    }
}


ngx_iot_radius_rc_e
ngx_iot_radius_verify(ngx_iot_radius_packet_t *pkt, ngx_str_t *secret,
    ngx_uint_t require_ma, const char **why)
{
    u_char     digest[16], mac[16];
    u_char     buf[NGX_IOT_RADIUS_MAX_LEN];
    ngx_md5_t  md5;

    if (pkt->code == NGX_IOT_RADIUS_ACCOUNTING_REQUEST) {

        /* RFC 2866, section 3 */

        ngx_md5_init(&md5);
        ngx_md5_update(&md5, pkt->data, 4);
        ngx_md5_update(&md5, ngx_iot_radius_zero, NGX_IOT_RADIUS_AUTH_LEN);
        ngx_md5_update(&md5, pkt->data + NGX_IOT_RADIUS_HEADER_LEN,
                       pkt->len - NGX_IOT_RADIUS_HEADER_LEN);
        ngx_md5_update(&md5, secret->data, secret->len);
        ngx_md5_final(digest, &md5);

        if (CRYPTO_memcmp(digest, pkt->authenticator, 16) != 0) {
            *why = "Request Authenticator does not match the secret";
            return NGX_IOT_RADIUS_BAD_AUTHENTICATOR;
        }
    }

    if (pkt->message_authenticator == NULL) {

        /* EAP-Message requires it (RFC 3579, section 3.2) */

        if (pkt->code == NGX_IOT_RADIUS_ACCESS_REQUEST
            && (require_ma || pkt->has_eap))
        {
            *why = "no Message-Authenticator";
            return NGX_IOT_RADIUS_NO_MESSAGE_AUTHENTICATOR;
        }

        return NGX_IOT_RADIUS_OK;
    }

    /*
     * HMAC-MD5 over the packet with the attribute's value zeroed; in an
     * Accounting-Request the Request Authenticator is zeroed too, since
     * it is computed after the Message-Authenticator (RFC 5080, 2.2.2)
     */

    ngx_memcpy(buf, pkt->data, pkt->len);
    ngx_memzero(buf + (pkt->message_authenticator - pkt->data),
                NGX_IOT_RADIUS_AUTH_LEN);

    if (pkt->code == NGX_IOT_RADIUS_ACCOUNTING_REQUEST) {
        ngx_memzero(buf + 4, NGX_IOT_RADIUS_AUTH_LEN);
    }

    if (ngx_iot_radius_hmac(secret, buf, pkt->len, mac) != NGX_OK) {
        *why = "HMAC-MD5 failed";
        return NGX_IOT_RADIUS_BAD_MESSAGE_AUTHENTICATOR;
    }

    if (CRYPTO_memcmp(mac, pkt->message_authenticator, 16) != 0) {
        *why = "Message-Authenticator does not match the secret";
        return NGX_IOT_RADIUS_BAD_MESSAGE_AUTHENTICATOR;
    }

    return NGX_IOT_RADIUS_OK;
}


/*
 * Access-Accept and Access-Reject always carry a Message-Authenticator,
 * as their first attribute: a gateway that checks it is safe from forged
 * replies (CVE-2024-3596, "Blast-RADIUS"), and one that does not ignores
 * it.  Proxy-State attributes are copied in order (RFC 2865, 5.33).
 */

ssize_t
ngx_iot_radius_reply(ngx_iot_radius_packet_t *req, ngx_uint_t code,
    in_addr_t *framed_ip, ngx_str_t *secret, u_char *out, size_t size)
{
    u_char     *p, *a, *last, *ma;
    size_t      len;
    ngx_md5_t   md5;

    len = NGX_IOT_RADIUS_HEADER_LEN + req->proxy_state_len;

    if (code != NGX_IOT_RADIUS_ACCOUNTING_RESPONSE) {
        len += NGX_IOT_RADIUS_MA_ATTR_LEN;
    }

    if (framed_ip) {
        len += 6;
    }

    if (len > NGX_IOT_RADIUS_MAX_LEN || len > size) {
        return NGX_ERROR;
    }

    out[0] = (u_char) code;
    out[1] = (u_char) req->id;
    out[2] = (u_char) (len >> 8);
    out[3] = (u_char) len;

    /* the Request Authenticator stands here while the digests are made */
    ngx_memcpy(out + 4, req->authenticator, NGX_IOT_RADIUS_AUTH_LEN);

    p = out + NGX_IOT_RADIUS_HEADER_LEN;
    ma = NULL;

    if (code != NGX_IOT_RADIUS_ACCOUNTING_RESPONSE) {
        *p++ = NGX_IOT_RADIUS_MESSAGE_AUTHENTICATOR;
        *p++ = NGX_IOT_RADIUS_MA_ATTR_LEN;
        ma = p;
        p = ngx_cpymem(p, ngx_iot_radius_zero, NGX_IOT_RADIUS_AUTH_LEN);
    }

    if (framed_ip) {
        *p++ = NGX_IOT_RADIUS_FRAMED_IP_ADDRESS;
        *p++ = 6;
        p = ngx_cpymem(p, framed_ip, 4);
    }

    if (req->proxy_state_len) {

        /* the request was parsed: its attribute lengths are sound */

        a = req->data + NGX_IOT_RADIUS_HEADER_LEN;
        last = req->data + req->len;

        while (a < last) {
            if (a[0] == NGX_IOT_RADIUS_PROXY_STATE) {
                p = ngx_cpymem(p, a, a[1]);
            }

            a += a[1];
        }
    }

    if (ma && ngx_iot_radius_hmac(secret, out, len, ma) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, out, len);
    ngx_md5_update(&md5, secret->data, secret->len);
    ngx_md5_final(out + 4, &md5);

    return len;
}


static ngx_int_t
ngx_iot_radius_hmac(ngx_str_t *secret, u_char *data, size_t len, u_char *out)
{
    u_char    mac[EVP_MAX_MD_SIZE];
    unsigned  n;

    n = 0;

    if (HMAC(EVP_md5(), secret->data, (int) secret->len, data, len, mac, &n)
        == NULL
        || n != NGX_IOT_RADIUS_AUTH_LEN)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(out, mac, NGX_IOT_RADIUS_AUTH_LEN);

    return NGX_OK;
}


/*
 * An MSISDN as digits: "+47 912-34 567" gives "4791234567".  Anything but
 * digits, a leading '+' and the usual separators means the value is not a
 * phone number; then, as when it has more than max digits, 0 is returned.
 */

size_t
ngx_iot_radius_msisdn(ngx_str_t *src, u_char *dst, size_t max)
{
    u_char  c;
    size_t  i, n;

    n = 0;

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if (c >= '0' && c <= '9') {
            if (n == max) {
                return 0;
            }

            dst[n++] = c;
            continue;
        }

        if (c == '+' && n == 0) {
            continue;
        }

        if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
            continue;
        }

        return 0;
    }

    return n;
}


/* a string of 1 to max digits, copied; 0 if it is anything else */

size_t
ngx_iot_radius_digits(ngx_str_t *src, u_char *dst, size_t max)
{
    size_t  i;

    if (src->len == 0 || src->len > max) {
        return 0;
    }

    for (i = 0; i < src->len; i++) {
        if (src->data[i] < '0' || src->data[i] > '9') {
            return 0;
        }
    }

    ngx_memcpy(dst, src->data, src->len);

    return src->len;
}


const char *
ngx_iot_radius_code_name(ngx_uint_t code)
{
    static const char  *names[] = {
        "code 0",
        "Access-Request",
        "Access-Accept",
        "Access-Reject",
        "Accounting-Request",
        "Accounting-Response"
    };

    if (code < sizeof(names) / sizeof(names[0])) {
        return names[code];
    }

    return "unsupported code";
}
