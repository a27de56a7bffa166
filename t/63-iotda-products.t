#!/usr/bin/perl

# The iotda dialect's products: create (with or without a product_id,
# every field rule of the model, service capabilities and typed
# properties with defaults checked against their type, range and enum),
# show, list (page object, app_id), delete; one resource space's
# credentials never reaching another's products; read-only keys; signed
# writes; everything after a restart.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });
$c->create_device($A->{collectionId});

my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);

my $wa = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::true });
my $ra = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::false });
my $signed_a = IoT::Iotda->new($t, project => $project,
                               map { $_->[0] => $_->[1] }
                               (['ak', (access_key($wa->{token}))[0]],
                                ['sk', (access_key($wa->{token}))[1]]));
my $read_a = IoT::Iotda->new($t, project => $project,
                             algorithm => 'V11-HMAC-SHA256',
                             map { $_->[0] => $_->[1] }
                             (['ak', (access_key($ra->{token}))[0]],
                              ['sk', (access_key($ra->{token}))[1]]));

sub product {
    my (%over) = @_;
    return {
        name => 'Thermometer', device_type => 'Meter',
        protocol_type => 'MQTT', data_format => 'json',
        manufacturer_name => 'ACME', industry => 'water',
        description => 'a water meter', app_id => $A->{collectionId},
        service_capabilities => [{
            service_id => 'WaterMeter', service_type => 'Water',
            option => 'Mandatory', description => 'the meter',
            properties => [
                { property_name => 'temperature', data_type => 'int',
                  required => JSON::XS::true, min => '0', max => '100',
                  step => 1, unit => 'C', method => 'RW',
                  default_value => 20 },
                { property_name => 'mode', data_type => 'enum',
                  enum_list => ['eco', 'full'], default_value => 'eco',
                  method => 'R' },
                { property_name => 'label', data_type => 'string',
                  max_length => 8, default_value => 'meter' },
            ],
            commands => [{ command_name => 'reset' }],
            events => [],
        }],
        %over,
    };
}

# ------------------------------------------------------------ create

my ($s, $j, $hd) = $api->call(POST => '/products', body => product());
is($s, 201, 'create without product_id');
like($j->{product_id}, qr/^[0-9a-f]{24}\z/, 'product_id: the platform\'s');
is($j->{app_id}, $A->{collectionId}, 'app_id');
is($j->{app_name}, 'space-a', 'app_name');
like($j->{create_time}, qr/^\d{8}T\d{6}Z\z/, 'create_time');
is($j->{$_}, product()->{$_}, "$_ as given")
    for qw(name device_type protocol_type data_format manufacturer_name
           industry description);
is_deeply($j->{service_capabilities}, product()->{service_capabilities},
          'service_capabilities as given');
like($hd->{'x-request-id'}, qr/^[0-9a-f]{32}\z/, 'X-Request-Id');
my $generated = $j->{product_id};

($s, $j) = $api->call(POST => '/products',
                      body => product(product_id => 'prod-1'));
is($s, 201, 'create with product_id');
is($j->{product_id}, 'prod-1', 'the product_id given');
is_iotda_error([$api->call(POST => '/products',
                           body => product(product_id => 'prod-1'))],
               409, 'IOTDA.009001', 'a product_id taken');

# every field rule
my %bad = (
    'product_id too long'   => { product_id => 'p' x 37 },
    'product_id characters' => { product_id => 'a b' },
    'name missing'          => { name => undef },
    'name empty'            => { name => '' },
    'name too long'         => { name => 'n' x 65 },
    'name not a string'     => { name => 5 },
    'device_type missing'   => { device_type => undef },
    'device_type too long'  => { device_type => 'd' x 33 },
    'protocol_type missing' => { protocol_type => undef },
    'protocol_type unknown' => { protocol_type => 'mqtt' },
    'data_format unknown'   => { data_format => 'xml' },
    'manufacturer too long' => { manufacturer_name => 'm' x 33 },
    'industry too long'     => { industry => 'i' x 65 },
    'description too long'  => { description => 'd' x 129 },
    'no capabilities'       => { service_capabilities => undef },
    'empty capabilities'    => { service_capabilities => [] },
    'capabilities object'   => { service_capabilities => {} },
    'too many services'     => { service_capabilities =>
                                 [map { { service_id => "s$_" } } 1 .. 501] },
    'a service not object'  => { service_capabilities => ['x'] },
    'service_id missing'    => { service_capabilities => [{}] },
    'service_id too long'   => { service_capabilities =>
                                 [{ service_id => 's' x 65 }] },
    'service_id twice'      => { service_capabilities =>
                                 [{ service_id => 'a' }, { service_id => 'a' }] },
    'option unknown'        => { service_capabilities =>
                                 [{ service_id => 'a', option => 'Maybe' }] },
    'properties object'     => { service_capabilities =>
                                 [{ service_id => 'a', properties => {} }] },
    'commands not array'    => { service_capabilities =>
                                 [{ service_id => 'a', commands => 'x' }] },
);
my @props = (
    ['property_name missing', { data_type => 'int' }],
    ['property_name too long', { property_name => 'p' x 65, data_type => 'int' }],
    ['property_name with .', { property_name => 'a.b', data_type => 'int' }],
    ['property_name with $', { property_name => 'a$', data_type => 'int' }],
    ['data_type missing', { property_name => 'p' }],
    ['data_type unknown', { property_name => 'p', data_type => 'float' }],
    ['min a number', { property_name => 'p', data_type => 'int', min => 0 }],
    ['max too long', { property_name => 'p', data_type => 'int', max => '1' x 17 }],
    ['required not boolean', { property_name => 'p', data_type => 'int', required => 'yes' }],
    ['max_length negative', { property_name => 'p', data_type => 'string', max_length => -1 }],
    ['step a string', { property_name => 'p', data_type => 'int', step => '1' }],
    ['method unknown', { property_name => 'p', data_type => 'int', method => 'X' }],
    ['method twice', { property_name => 'p', data_type => 'int', method => 'RR' }],
    ['enum_list not strings', { property_name => 'p', data_type => 'enum', enum_list => [1] }],
    ['default not an int', { property_name => 'p', data_type => 'int', default_value => '1' }],
    ['default below min', { property_name => 'p', data_type => 'int', min => '5', default_value => 4 }],
    ['default above max', { property_name => 'p', data_type => 'decimal', max => '1.5', default_value => 1.6 }],
    ['default not in enum', { property_name => 'p', data_type => 'enum', enum_list => ['a'], default_value => 'b' }],
    ['default too long', { property_name => 'p', data_type => 'string', max_length => 2, default_value => 'abc' }],
    ['default not boolean', { property_name => 'p', data_type => 'boolean', default_value => 1 }],
    ['default not object', { property_name => 'p', data_type => 'jsonObject', default_value => [] }],
    ['property twice', { property_name => 'p', data_type => 'int' }, { property_name => 'p', data_type => 'long' }],
);
for my $p (@props) {
    my ($name, @list) = @$p;
    $bad{$name} = { service_capabilities =>
                    [{ service_id => 'a', properties => \@list }] };
}

my $before = ($api->call(GET => '/products', query => 'limit=50'))[1];
for my $name (sort keys %bad) {
    my $body = product(%{ $bad{$name} });
    delete $body->{$_} for grep { !defined $body->{$_} } keys %$body;
    is_iotda_error([$api->call(POST => '/products', body => $body)], 400,
                   'IOTDA.000006', "refused: $name");
}
is_iotda_error([$api->call(POST => '/products', body => '[1]')], 400,
               'IOTDA.000008', 'a body that is not an object');
is_iotda_error([$api->call(POST => '/products', body => '{"name":')], 400,
               'IOTDA.000008', 'a body that is not JSON');
is_deeply(($api->call(GET => '/products', query => 'limit=50'))[1], $before,
          'nothing refused was stored');

# the defaults that fit
($s) = $api->call(POST => '/products', body => product(product_id => 'ok-2',
    service_capabilities => [{ service_id => 's', properties => [
        { property_name => 'b', data_type => 'boolean', default_value => JSON::XS::false },
        { property_name => 'o', data_type => 'jsonObject', default_value => { a => 1 } },
        { property_name => 'l', data_type => 'string list', default_value => ['x'] },
        { property_name => 'd', data_type => 'decimal', min => '-1.5', max => '1.5', default_value => -1.5 },
        { property_name => 't', data_type => 'DateTime', default_value => '20240101T000000Z' },
    ] }]));
is($s, 201, 'defaults of every type that fit');

# app_id
is_iotda_error([$api->call(POST => '/products',
                           body => product(app_id => undef))],
               400, 'IOTDA.000006',
               'no app_id with credentials that reach every space');
is_iotda_error([$api->call(POST => '/products',
                           body => product(app_id => 'zzzzzzzzzzzzz'))],
               403, 'IOTDA.001000', 'an app_id that does not exist');
my $no_app = product(product_id => 'in-a');
delete $no_app->{app_id};
($s, $j) = $signed_a->call(POST => '/products', body => $no_app);
is($s, 201, "no app_id, a key of one space: signed create in it");
is($j->{app_id}, $A->{collectionId}, '... in that space');
is_iotda_error([$signed_a->call(POST => '/products',
                                body => product(product_id => 'in-b',
                                                app_id => $B->{collectionId}))],
               403, 'IOTDA.001000', "A's key cannot make a product in B");
is_iotda_error([$read_a->call(POST => '/products',
                              body => product(product_id => 'ro'))],
               403, 'IOTDA.000022', 'a read-only key cannot create');

($s) = $api->call(POST => '/products',
                  body => product(product_id => 'prod-b',
                                  app_id => $B->{collectionId}));
is($s, 201, 'a product in B');

# ------------------------------------------------------------ show, list

($s, $j) = $api->call(GET => '/products/prod-1');
is($s, 200, 'show');
is($j->{product_id}, 'prod-1', 'show: the product');
ok($j->{service_capabilities}, 'show: its capabilities');
is_iotda_error([$api->call(GET => '/products/nope')], 404, 'IOTDA.009002',
               'no such product');

($s, $j) = $api->call(GET => '/products', query => 'limit=50');
is($s, 200, 'list');
is($j->{page}{count}, 5, 'page.count');
ok(!(grep { exists $_->{service_capabilities} } @{ $j->{products} }),
   'list items have no service_capabilities');
my @all = map { $_->{product_id} } @{ $j->{products} };
my @paged;
my $marker;
for (1 .. 5) {
    my ($s, $j) = $api->call(GET => '/products',
        query => 'limit=2' . (defined $marker ? "&marker=$marker" : ''));
    last unless $s == 200 && @{ $j->{products} };
    push @paged, map { $_->{product_id} } @{ $j->{products} };
    $marker = $j->{page}{marker};
}
is_deeply(\@paged, \@all, 'pages through the marker');
($s, $j) = $api->call(GET => '/products',
                      query => "app_id=$B->{collectionId}");
is_deeply([map { $_->{product_id} } @{ $j->{products} }], ['prod-b'],
          'app_id: its products');
is_iotda_error([$api->call(GET => '/products', query => 'limit=0')], 400,
               'IOTDA.000017', 'list: limit 0');
is_iotda_error([$api->call(GET => '/products', query => 'marker=x')], 400,
               'IOTDA.000018', 'list: a bad marker');

($s, $j) = $read_a->call(GET => '/products', query => 'limit=50');
is($s, 200, "A's read-only key lists");
is($j->{page}{count}, 4, "A's key: only A's products");
is_iotda_error([$read_a->call(GET => '/products/prod-b')], 404,
               'IOTDA.009002', "A's key: B's product does not exist");
is_iotda_error([$read_a->call(GET => '/products',
                              query => "app_id=$B->{collectionId}")],
               403, 'IOTDA.001000', "A's key: B as app_id");

# ------------------------------------------------------------ SDK core

SKIP: {
    my $sdk = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules (./build.sh installs them)', 3
        unless $sdk;

    my $body = product(product_id => 'by-sdk', app_id => $A->{collectionId});
    my $r = $sdk->(access_key($wa->{token}), 'POST',
                   '/v5/iot/{project_id}/products', '{}',
                   JSON::XS::encode_json($body));
    is($r->{status}, 201, 'SDK core: a signed create') or diag(explain $r);
    is($r->{body}{product_id}, 'by-sdk', 'SDK core: the product');
    is(($api->call(DELETE => '/products/by-sdk'))[0], 204,
       'SDK core: made, and deleted');
}

# ------------------------------------------------------------ delete

is_iotda_error([$read_a->call(DELETE => '/products/in-a')], 403,
               'IOTDA.000022', 'a read-only key cannot delete');
is_iotda_error([$signed_a->call(DELETE => '/products/prod-b')], 404,
               'IOTDA.009002', "A's key cannot delete B's product");
is(($signed_a->call(DELETE => '/products/in-a'))[0], 204, 'signed delete');
is_iotda_error([$api->call(GET => '/products/in-a')], 404, 'IOTDA.009002',
               'deleted');
is_iotda_error([$api->call(DELETE => '/products/in-a')], 404, 'IOTDA.009002',
               'deleted twice');
is_iotda_error([$api->call(PATCH => '/products/prod-1', body => {})], 405,
               'IOTDA.000005', 'no PATCH (PUT changes a product: t/49)');

# a resource space with products stays until they are gone
{
    my $E = $c->create_collection({ tags => { name => 'empty' } });
    my ($s) = $api->call(POST => '/products',
                         body => product(product_id => 'in-e',
                                         app_id => $E->{collectionId}));
    is($s, 201, 'a product in a space without devices');
    IoT::Collections::is_error([$c->call(DELETE => "/collections/$E->{collectionId}")],
                               409, 'a collection with a product', qr/products/);
    is(($api->call(GET => '/products/in-e'))[0], 200, '... the product stays');
    is(($api->call(DELETE => '/products/in-e'))[0], 204, 'the product deleted');
    is(($c->call(DELETE => "/collections/$E->{collectionId}"))[0], 204,
       'then the collection');
}

# ------------------------------------------------------------ restart

$t->restart;
($s, $j) = $api->call(GET => '/products', query => 'limit=50');
is($j->{page}{count}, 4, 'after a restart: the products left');
($s, $j) = $api->call(GET => '/products/prod-1');
is_deeply($j->{service_capabilities}, product()->{service_capabilities},
          'after a restart: the model');
($s) = $api->call(POST => '/products', body => product(product_id => 'in-a'));
is($s, 201, 'a deleted product_id is free again');
is(($api->call(GET => "/products/$generated"))[0], 200,
   'the generated product_id after a restart');

$t->finish;
done_testing;
