
/*
 * Copyright (C) nginx-iot authors
 *
 * For the iotda dialect's targets, included after
 * ngx_http_iot_iotda_products.c: a product's model made as the product
 * validator makes it, for the whole run.
 */


#ifndef _NGX_FUZZ_IOTDA_H_INCLUDED_
#define _NGX_FUZZ_IOTDA_H_INCLUDED_


static json_t *
ngx_fuzz_iotda_model(const char *product_text)
{
    json_t              *product, *model;
    ngx_pool_t          *pool;
    ngx_http_request_t  *r;

    pool = ngx_fuzz_pool();
    r = ngx_fuzz_request(pool);

    product = json_loads(product_text, 0, NULL);
    model = json_object();

    if (product == NULL || model == NULL
        || ngx_http_iot_iotda_model(r, product, model) != NGX_OK)
    {
        abort();
    }

    json_decref(product);
    ngx_destroy_pool(pool);

    return model;
}

#endif /* _NGX_FUZZ_IOTDA_H_INCLUDED_ */
