
/*
 * Copyright (C) nginx-iot authors
 *
 * t/60-iotda-sign.t: the request signatures of the iotda dialect
 * (ngx_iot_module/ngx_http_iot_iotda_sign.c), built alone.
 *
 *   iotda-sign-check METHOD PATH QUERY SIGNED_HEADERS DATE AK SK REGION
 *                    BODY VALUE...
 *
 * prints the body's hash, the canonical request's hash, the
 * SDK-HMAC-SHA256 signature, the V11 derived key and the V11 signature.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ngx_http_iot_iotda_sign.h"


static ngx_http_iot_iotda_bytes_t
arg(char *s)
{
    ngx_http_iot_iotda_bytes_t  b;

    b.data = (unsigned char *) s;
    b.len = strlen(s);

    return b;
}


int
main(int argc, char **argv)
{
    int                            i;
    size_t                         size;
    unsigned char                  body[65], canonical[65], sdk[65];
    unsigned char                  key[65], v11[65], info[300];
    unsigned char                 *base, *scratch;
    ngx_http_iot_iotda_bytes_t     date, ak, sk, inf;
    ngx_http_iot_iotda_bytes_t    *values;
    ngx_http_iot_iotda_request_t   req;

    if (argc < 10) {
        fprintf(stderr, "usage: see the comment\n");
        return 2;
    }

    memset(body, 0, sizeof(body));
    memset(canonical, 0, sizeof(canonical));
    memset(sdk, 0, sizeof(sdk));
    memset(key, 0, sizeof(key));
    memset(v11, 0, sizeof(v11));

    values = calloc(argc, sizeof(ngx_http_iot_iotda_bytes_t));
    if (values == NULL) {
        return 2;
    }

    for (i = 10; i < argc; i++) {
        values[i - 10] = arg(argv[i]);
    }

    ngx_http_iot_iotda_sha256_hex((unsigned char *) argv[9],
                                  strlen(argv[9]), body);

    req.method = arg(argv[1]);
    req.path = arg(argv[2]);
    req.query = arg(argv[3]);
    req.signed_headers = arg(argv[4]);
    req.values = values;
    req.nvalues = argc - 10;
    req.body_hash.data = body;
    req.body_hash.len = 64;

    size = ngx_http_iot_iotda_scratch_size(&req);

    /* at an odd address, as ngx_pnalloc() may give it */

    base = malloc(size + 1);
    if (base == NULL) {
        return 2;
    }

    scratch = base + 1;

    if (ngx_http_iot_iotda_canonical_hash(&req, scratch, size - 1,
                                          canonical)
        != -1)
    {
        fprintf(stderr, "a scratch space too small was taken\n");
        return 1;
    }

    if (ngx_http_iot_iotda_canonical_hash(&req, scratch, size, canonical)
        != 0)
    {
        fprintf(stderr, "no canonical request\n");
        return 1;
    }

    date = arg(argv[5]);
    ak = arg(argv[6]);
    sk = arg(argv[7]);

    snprintf((char *) info, sizeof(info), "%.8s/%s/iotdm", argv[5],
             argv[8]);
    inf = arg((char *) info);

    if (ngx_http_iot_iotda_sdk_signature(canonical, &date, &sk, sdk) != 0
        || ngx_http_iot_iotda_v11_key(&ak, &sk, &inf, key) != 0
        || ngx_http_iot_iotda_v11_signature(canonical, &date, &inf, key,
                                            v11)
           != 0)
    {
        fprintf(stderr, "no signature\n");
        return 1;
    }

    printf("body %s\ncanonical %s\nsdk %s\nkey %s\nv11 %s\n",
           body, canonical, sdk, key, v11);

    free(base);
    free(values);

    return 0;
}
