#!/usr/bin/perl

# The iotda dialect's product update (PUT /products/{product_id}): the
# fields given replace the product's, the others stay, and the product
# that results is checked with every rule of a new one (IOTDA.000006,
# nothing changed when refused); product_id and app_id stay the
# product's; read-only and other spaces' keys; signed (the client's
# signer and the Huawei Cloud SDK core); after a restart.

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
my $wb = $c->create_token({ resource => "/collections/$B->{collectionId}",
                            write => JSON::XS::true });
my ($ak, $sk) = access_key($wa->{token});
my $signed = IoT::Iotda->new($t, project => $project, ak => $ak, sk => $sk,
                             headers => {});
my $read = IoT::Iotda->new($t, project => $project,
                           ak => (access_key($ra->{token}))[0],
                           sk => (access_key($ra->{token}))[1]);
my $other = IoT::Iotda->new($t, project => $project,
                            ak => (access_key($wb->{token}))[0],
                            sk => (access_key($wb->{token}))[1]);

my $services = [{
    service_id => 'Meter', service_type => 'Water', option => 'Mandatory',
    properties => [
        { property_name => 'temperature', data_type => 'int', min => '0',
          max => '100', default_value => 20, method => 'RW' },
    ],
    commands => [{ command_name => 'reset' }],
}];

my ($s, $j) = $api->call(POST => '/products', body => {
    product_id => 'meter-1', name => 'Meter', device_type => 'Meter',
    protocol_type => 'MQTT', data_format => 'json',
    manufacturer_name => 'ACME', industry => 'water',
    description => 'a meter', app_id => $A->{collectionId},
    service_capabilities => $services });
is($s, 201, 'a product');
my $made = $j;

# ------------------------------------------------------------ update

($s, $j) = $api->call(PUT => '/products/meter-1',
                      body => { name => 'Meter v2' });
is($s, 200, 'PUT a name: 200');
is($j->{name}, 'Meter v2', '... the new name');
is($j->{product_id}, 'meter-1', '... the same product_id');
is($j->{app_id}, $A->{collectionId}, '... the same app_id');
is($j->{app_name}, 'space-a', '... app_name');
is($j->{create_time}, $made->{create_time}, '... the same create_time');
is_deeply($j->{service_capabilities}, $services,
          '... the services as they were');
is($j->{manufacturer_name}, 'ACME', '... the other fields as they were');
($s, $j) = $api->call(GET => '/products/meter-1');
is($j->{name}, 'Meter v2', 'GET shows the new name');

my $new_services = [{
    service_id => 'Valve', option => 'Optional',
    properties => [
        { property_name => 'open', data_type => 'boolean',
          default_value => JSON::XS::false, method => 'RW' },
        { property_name => 'mode', data_type => 'enum',
          enum_list => ['a', 'b'], default_value => 'b' },
    ],
}];
($s, $j) = $api->call(PUT => '/products/meter-1', body => {
    service_capabilities => $new_services, protocol_type => 'UDP',
    data_format => 'binary', description => 'a valve', industry => undef,
    product_id => 'meter-1', app_id => $A->{collectionId} });
is($s, 200, 'PUT services, protocol, format (own product_id and app_id)');
is_deeply($j->{service_capabilities}, $new_services, '... the new services');
is($j->{protocol_type}, 'UDP', '... protocol_type');
is($j->{data_format}, 'binary', '... data_format');
is($j->{description}, 'a valve', '... description');
is($j->{industry}, 'water', '... a field given as null stays');
is($j->{name}, 'Meter v2', '... the name stays');

($s, $j) = $api->call(PUT => '/products/meter-1', body => {});
is($s, 200, 'PUT nothing: 200, unchanged');
is_deeply($j->{service_capabilities}, $new_services, '... unchanged');

# ------------------------------------------------------------ refusals

my ($s0, $before) = $api->call(GET => '/products/meter-1');

my @bad = (
    [ 'name empty', { name => '' } ],
    [ 'name of 65', { name => 'n' x 65 } ],
    [ 'name a number', { name => 5 } ],
    [ 'name with a control character', { name => "a\x01" } ],
    [ 'device_type of 33', { device_type => 'd' x 33 } ],
    [ 'protocol_type unknown', { protocol_type => 'LwM2M' } ],
    [ 'protocol_type a number', { protocol_type => 1 } ],
    [ 'data_format unknown', { data_format => 'xml' } ],
    [ 'manufacturer_name of 33', { manufacturer_name => 'm' x 33 } ],
    [ 'industry of 65', { industry => 'i' x 65 } ],
    [ 'description of 129', { description => 'd' x 129 } ],
    [ 'service_capabilities empty', { service_capabilities => [] } ],
    [ 'service_capabilities not an array', { service_capabilities => {} } ],
    [ 'two services with one id', { service_capabilities => [
        { service_id => 'x' }, { service_id => 'x' } ] } ],
    [ 'a service without an id', { service_capabilities => [{}] } ],
    [ 'a property with a default over max', { service_capabilities => [{
        service_id => 's', properties => [{ property_name => 'p',
        data_type => 'int', max => '10', default_value => 11 }] }] } ],
    [ 'a property with a bad data_type', { service_capabilities => [{
        service_id => 's', properties => [{ property_name => 'p',
        data_type => 'float' }] }] } ],
    [ 'a property name with a dot', { service_capabilities => [{
        service_id => 's', properties => [{ property_name => 'a.b',
        data_type => 'int' }] }] } ],
    [ 'an enum default not in the list', { service_capabilities => [{
        service_id => 's', properties => [{ property_name => 'p',
        data_type => 'enum', enum_list => ['a'], default_value => 'b' }] }] } ],
    [ 'another product_id', { product_id => 'meter-2' } ],
    [ 'a product_id with a space', { product_id => 'a b' } ],
    [ 'another app_id', { app_id => $B->{collectionId} } ],
    [ 'an app_id with a space', { app_id => 'a b' } ],
);

for my $b (@bad) {
    is_iotda_error([$api->call(PUT => '/products/meter-1', body => $b->[1])],
                   400, 'IOTDA.000006', $b->[0]);
}

is_iotda_error([$api->call(PUT => '/products/meter-1', body => '{"name":')],
               400, 'IOTDA.000008', 'a body that is not JSON');
is_iotda_error([$api->call(PUT => '/products/meter-1', body => '[]')],
               400, 'IOTDA.000008', 'a body that is not an object');
($s, $j) = $api->call(GET => '/products/meter-1');
is_deeply($j, $before, 'nothing refused changed the product');

# ------------------------------------------------------------ who may

is_iotda_error([$api->call(PUT => '/products/nosuch', body => {})],
               404, 'IOTDA.009002', 'an unknown product');
is_iotda_error([$read->call(PUT => '/products/meter-1',
                            body => { name => 'x' })],
               403, 'IOTDA.000022', 'a read-only key');
is_iotda_error([$other->call(PUT => '/products/meter-1',
                             body => { name => 'x' })],
               404, 'IOTDA.009002', "another space's key");
($s, $j) = $api->call(GET => '/products/meter-1');
is($j->{name}, 'Meter v2', '... changed nothing');

($s, $j) = $signed->call(PUT => '/products/meter-1',
    body => { name => 'Signed' },
    headers => { 'Content-Type' => 'application/json;charset=UTF-8' });
is($s, 200, 'a signed PUT (application/json;charset=UTF-8)');
is($j->{name}, 'Signed', '... changed');

SKIP: {
    my $run = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules (./build.sh installs them)', 3
        unless $run;

    my $sdk = sub { $run->($ak, $sk, @_) };

    my $r = $sdk->('PUT', '/v5/iot/{project_id}/products/meter-1', '{}',
                   '{"name":"From the SDK","industry":"gas"}');
    is($r->{status}, 200, 'SDK core: UpdateProduct') or diag(explain $r);
    is($r->{body}{name}, 'From the SDK', 'SDK core: the name');
    $r = $sdk->('PUT', '/v5/iot/{project_id}/products/meter-1', '{}',
                '{"data_format":"csv"}');
    is($r->{error_code}, 'IOTDA.000006', 'SDK core: a refusal');
}

# ------------------------------------------------------------ restart

($s, $before) = $api->call(GET => '/products/meter-1');
$t->restart;
($s, $j) = $api->call(GET => '/products/meter-1');
is_deeply($j, $before, 'after a restart: the product as it was changed');
is(($api->call(DELETE => '/products/meter-1'))[0], 204,
   'a changed product is deleted');

$t->finish;
done_testing;
