
/*
 * Copyright (C) nginx-iot authors
 *
 * The request signatures of the Huawei Cloud SDKs (AK/SK): the canonical
 * request, SDK-HMAC-SHA256 and V11-HMAC-SHA256 (an HKDF-derived key).
 * Plain C and OpenSSL, no nginx: t/60-iotda-sign.t compiles it alone and
 * checks it against the test vector of the real SDK.
 */


#ifndef _NGX_HTTP_IOT_IOTDA_SIGN_H_INCLUDED_
#define _NGX_HTTP_IOT_IOTDA_SIGN_H_INCLUDED_


#include <stddef.h>


#define NGX_HTTP_IOT_IOTDA_HEX_LEN  64    /* a SHA-256 in hex */


typedef struct {
    size_t                          len;
    unsigned char                  *data;
} ngx_http_iot_iotda_bytes_t;


/* a request as it was received */
typedef struct {
    ngx_http_iot_iotda_bytes_t      method;
    ngx_http_iot_iotda_bytes_t      path;       /* raw, without the query */
    ngx_http_iot_iotda_bytes_t      query;      /* raw, without the "?" */
    ngx_http_iot_iotda_bytes_t      signed_headers;  /* "a;b;c", as sent */
    ngx_http_iot_iotda_bytes_t     *values;     /* one per signed header */
    size_t                          nvalues;
    ngx_http_iot_iotda_bytes_t      body_hash;  /* hex SHA-256 of the body */
} ngx_http_iot_iotda_request_t;


/* the work space ngx_http_iot_iotda_canonical_hash() needs, at most */
size_t ngx_http_iot_iotda_scratch_size(ngx_http_iot_iotda_request_t *req);

/*
 * hex: the hex SHA-256 of the canonical request (64 characters, no NUL).
 * 0, or -1 when scratch is too small or the request cannot be read.
 */
int ngx_http_iot_iotda_canonical_hash(ngx_http_iot_iotda_request_t *req,
    unsigned char *scratch, size_t size, unsigned char *hex);

/* SDK-HMAC-SHA256: hex of HMAC-SHA256(sk, string to sign) */
int ngx_http_iot_iotda_sdk_signature(unsigned char *canonical_hex,
    ngx_http_iot_iotda_bytes_t *date, ngx_http_iot_iotda_bytes_t *sk,
    unsigned char *hex);

/* V11-HMAC-SHA256: the derived key (hex), then the signature (hex) */
int ngx_http_iot_iotda_v11_key(ngx_http_iot_iotda_bytes_t *ak,
    ngx_http_iot_iotda_bytes_t *sk, ngx_http_iot_iotda_bytes_t *info,
    unsigned char *key_hex);
int ngx_http_iot_iotda_v11_signature(unsigned char *canonical_hex,
    ngx_http_iot_iotda_bytes_t *date, ngx_http_iot_iotda_bytes_t *info,
    unsigned char *key_hex, unsigned char *hex);

/* hex SHA-256 of data; an HMAC-SHA256 in hex */
void ngx_http_iot_iotda_sha256_hex(const unsigned char *data, size_t len,
    unsigned char *hex);
int ngx_http_iot_iotda_hmac_hex(const unsigned char *key, size_t key_len,
    const unsigned char *data, size_t len, unsigned char *hex);

/* what hashing keeps in a process, let go at its exit */
void ngx_http_iot_iotda_sign_free(void);

/* do two hex signatures match (in constant time)?  1 or 0 */
int ngx_http_iot_iotda_equal(const unsigned char *a,
    const unsigned char *b, size_t len);


#endif /* _NGX_HTTP_IOT_IOTDA_SIGN_H_INCLUDED_ */
