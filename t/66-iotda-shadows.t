#!/usr/bin/perl

# The iotda dialect's device shadows: desired from the product's defaults
# and the create request's shadow; GET; PUT checked against the model,
# versions (a stale one refused, nothing changed), null deleting, {}
# clearing; DELETE; reported from the device side: an uplink (UDP, after
# a RADIUS attach) whose payload is IoTDA's property report; a frozen
# device's uplinks refused; everything after a restart.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use JSON::XS ();
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::Radius qw(radclient);

my $SECRET = 'shadow-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $radius = -x '/usr/bin/radclient';

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS,
                       stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
$c->create_device($A->{collectionId});

my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);

my $ra = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::false });
my $read_a = IoT::Iotda->new($t, project => $project,
                             map { $_->[0] => $_->[1] }
                             (['ak', (access_key($ra->{token}))[0]],
                              ['sk', (access_key($ra->{token}))[1]]));

my ($s, $j) = $api->call(POST => '/products', body => {
    product_id => 'meter', name => 'Meter', device_type => 'Meter',
    protocol_type => 'UDP', data_format => 'json',
    app_id => $A->{collectionId},
    service_capabilities => [
        { service_id => 'WaterMeter',
          properties => [
              { property_name => 'temperature', data_type => 'int',
                min => '0', max => '100', method => 'RW',
                default_value => 20 },
              { property_name => 'mode', data_type => 'enum',
                enum_list => ['eco', 'full'], method => 'RW',
                default_value => 'eco' },
              { property_name => 'label', data_type => 'string',
                max_length => 4, method => 'RW' },
          ] },
        { service_id => 'Battery',
          properties => [
              { property_name => 'level', data_type => 'decimal',
                min => '0', max => '1', method => 'R' },
          ] },
    ],
});
is($s, 201, 'a product with defaults') or diag(explain $j);

# ------------------------------------------------------------ initial

($s, $j) = $api->call(POST => '/devices', body => {
    node_id => 'meter-1', product_id => 'meter',
    shadow => [{ service_id => 'WaterMeter',
                 desired => { temperature => 60, label => 'ab' } }] });
is($s, 201, 'a device with an initial shadow') or diag(explain $j);
my $did = $j->{device_id};

($s, $j) = $api->call(GET => "/devices/$did/shadow");
is($s, 200, 'GET shadow');
is($j->{device_id}, $did, 'device_id');
is(scalar @{ $j->{shadow} }, 1, 'one service with desired values');
my $w = $j->{shadow}[0];
is($w->{service_id}, 'WaterMeter', 'service_id');
is_deeply($w->{desired}{properties},
          { temperature => 60, mode => 'eco', label => 'ab' },
          "the product's defaults, the request's over them");
like($w->{desired}{event_time}, qr/^\d{8}T\d{6}Z\z/, 'event_time');
is($w->{version}, 0, 'version 0');

($s, $j) = $api->call(POST => '/devices', body => {
    node_id => 'meter-2', product_id => 'meter' });
($s, $j) = $api->call(GET => "/devices/meter_meter-2/shadow");
is_deeply($j->{shadow}[0]{desired}{properties},
          { temperature => 20, mode => 'eco' },
          'without a shadow: the defaults');
my $first = $j->{shadow}[0]{desired}{event_time};

# the defaults' doc is made once a worker: each device still gets its
# own event_time, in every worker
select(undef, undef, undef, 1.1);
for my $n (4 .. 7) {
    ($s) = $api->call(POST => '/devices', body => {
        node_id => "meter-$n", product_id => 'meter' });
    is($s, 201, "meter-$n without a shadow");
    ($s, $j) = $api->call(GET => "/devices/meter_meter-$n/shadow");
    is_deeply([ map { $_->{service_id} } @{ $j->{shadow} } ], ['WaterMeter'],
              "meter-$n: one service of defaults");
    is_deeply($j->{shadow}[0]{desired}{properties},
              { temperature => 20, mode => 'eco' }, "meter-$n: the defaults");
    my $et = $j->{shadow}[0]{desired}{event_time} // '';
    like($et, qr/^\d{8}T\d{6}Z\z/, "meter-$n: an event_time");
    ok($et gt $first, "meter-$n: made after meter-2 ($et > $first)");
}
($s, $j) = $api->call(POST => '/devices', body => {
    node_id => 'meter-3', product_id => 'meter',
    shadow => [{ service_id => 'WaterMeter',
                 desired => { temperature => undef } },
               { service_id => 'Battery', desired => { level => 0.5 } }] });
is($s, 201, 'null in the initial shadow');
($s, $j) = $api->call(GET => "/devices/meter_meter-3/shadow");
is_deeply({ map { $_->{service_id} => $_->{desired}{properties} }
            @{ $j->{shadow} } },
          { WaterMeter => { mode => 'eco' }, Battery => { level => 0.5 } },
          'a default deleted by null; a service without defaults');

# ------------------------------------------------------------ PUT

($s, $j) = $api->call(PUT => "/devices/$did/shadow", body => {
    shadow => [{ service_id => 'WaterMeter',
                 desired => { temperature => 70, label => undef },
                 version => 0 }] });
is($s, 200, 'PUT with the current version') or diag(explain $j);
$w = $j->{shadow}[0];
is_deeply($w->{desired}{properties}, { temperature => 70, mode => 'eco' },
          'set and deleted');
is($w->{version}, 1, 'version 1');

is_iotda_error([$api->call(PUT => "/devices/$did/shadow", body => {
                    shadow => [{ service_id => 'WaterMeter',
                                 desired => { temperature => 80 },
                                 version => 0 }] })],
               409, 'IOTDA.014041', 'a stale version');
is_iotda_error([$api->call(PUT => "/devices/$did/shadow", body => {
                    shadow => [{ service_id => 'Battery',
                                 desired => { level => 0.1 } },
                               { service_id => 'WaterMeter',
                                 desired => { temperature => 80 },
                                 version => 7 }] })],
               409, 'IOTDA.014041', 'one stale version of two');
($s, $j) = $api->call(GET => "/devices/$did/shadow");
is_deeply([map { $_->{service_id} } @{ $j->{shadow} }], ['WaterMeter'],
          'a conflict changes nothing');
is($j->{shadow}[0]{desired}{properties}{temperature}, 70,
   'nothing at all');

($s, $j) = $api->call(PUT => "/devices/$did/shadow", body => {
    shadow => [{ service_id => 'WaterMeter',
                 desired => { mode => 'full' } }] });
is($s, 200, 'PUT without a version');
is($j->{shadow}[0]{version}, 2, 'version 2');
($s, $j) = $api->call(PUT => "/devices/$did/shadow", body => {
    shadow => [{ service_id => 'WaterMeter', desired => {}, version => 2 }] });
is_deeply($j->{shadow}[0]{desired}{properties}, {}, '{} clears desired');
is($j->{shadow}[0]{version}, 3, 'version 3');

my %bad = (
    'no shadow'           => {},
    'shadow empty'        => { shadow => [] },
    'shadow an object'    => { shadow => {} },
    'item not an object'  => { shadow => [1] },
    'no service_id'       => { shadow => [{ desired => {} }] },
    'unknown service'     => { shadow => [{ service_id => 'Gas',
                                            desired => {} }] },
    'desired missing'     => { shadow => [{ service_id => 'WaterMeter' }] },
    'desired an array'    => { shadow => [{ service_id => 'WaterMeter',
                                            desired => [] }] },
    'unknown property'    => { shadow => [{ service_id => 'WaterMeter',
                                            desired => { x => 1 } }] },
    'a key with $'        => { shadow => [{ service_id => 'WaterMeter',
                                            desired => { 'a$' => 1 } }] },
    'int a string'        => { shadow => [{ service_id => 'WaterMeter',
                                            desired => { temperature => '1' } }] },
    'int below min'       => { shadow => [{ service_id => 'WaterMeter',
                                            desired => { temperature => -1 } }] },
    'enum not listed'     => { shadow => [{ service_id => 'WaterMeter',
                                            desired => { mode => 'x' } }] },
    'string too long'     => { shadow => [{ service_id => 'WaterMeter',
                                            desired => { label => 'abcde' } }] },
    'decimal above max'   => { shadow => [{ service_id => 'Battery',
                                            desired => { level => 1.5 } }] },
    'version negative'    => { shadow => [{ service_id => 'WaterMeter',
                                            desired => {}, version => -1 }] },
    'version a string'    => { shadow => [{ service_id => 'WaterMeter',
                                            desired => {}, version => '3' }] },
);
for my $name (sort keys %bad) {
    is_iotda_error([$api->call(PUT => "/devices/$did/shadow",
                               body => $bad{$name})],
                   400, 'IOTDA.000006', "PUT: $name");
}
is_iotda_error([$api->call(PUT => "/devices/$did/shadow", body => '[]')],
               400, 'IOTDA.000008', 'PUT: not an object');
is_iotda_error([$read_a->call(PUT => "/devices/$did/shadow", body => {
                    shadow => [{ service_id => 'WaterMeter',
                                 desired => {} }] })],
               403, 'IOTDA.000022', 'PUT: a read-only key');
is(($read_a->call(GET => "/devices/$did/shadow"))[0], 200,
   'GET: a read-only key');
is_iotda_error([$api->call(GET => '/devices/nothing/shadow')],
               404, 'IOTDA.014000', 'GET: no such device');
is_iotda_error([$api->call(POST => "/devices/$did/shadow", body => {})],
               405, 'IOTDA.000005', 'POST shadow');

# a device made elsewhere has no product: no model for desired values
my $other = $c->create_device($A->{collectionId});
($s, $j) = $api->call(GET => "/devices/$other->{deviceId}/shadow");
is_deeply($j->{shadow}, [], 'a device without a part: an empty shadow');
is_iotda_error([$api->call(PUT => "/devices/$other->{deviceId}/shadow",
                           body => { shadow => [{ service_id => 'WaterMeter',
                                                  desired => {} }] })],
               400, 'IOTDA.000006', 'PUT: a device without a product');

# ------------------------------------------------------------ DELETE

is(($api->call(DELETE => '/devices/meter_meter-3/shadow'))[0], 204,
   'DELETE shadow');
($s, $j) = $api->call(GET => '/devices/meter_meter-3/shadow');
is_deeply($j->{shadow}, [], 'the shadow is empty');
($s, $j) = $api->call(PUT => '/devices/meter_meter-3/shadow', body => {
    shadow => [{ service_id => 'Battery', desired => { level => 0.2 },
                 version => 0 }] });
is($s, 200, 'a service again, from version 0');
is($j->{shadow}[0]{version}, 1, 'its version 1');

# ------------------------------------------------------------ reported

SKIP: {
    skip 'radclient is not installed', 9 unless $radius;

    # the device gets an IMSI in the collections dialect, attaches, sends
    my $imsi = $t->next_imsi;
    my ($cs, $cj) = $c->call(GET => "/collections/$A->{collectionId}/devices");
    my $rid;
    for my $d (@{ $cj->{devices} }) {
        my ($gs, $gj) = $api->call(GET => "/devices/$d->{deviceId}");
        $rid = $d->{deviceId} if $gj->{device_id} eq $did;
    }
    ok($rid, 'the device in the collections dialect');
    is(($c->call(PATCH => "/collections/$A->{collectionId}/devices/$rid",
                 body => { imsi => $imsi }))[0], 200, 'an IMSI for it');
    my ($exit, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Acct-Session-Id = \"s1\", "
        . "Framed-IP-Address = 127.0.0.7, 3GPP-IMSI = \"$imsi\"",
        dir => $t->dir);
    like($out, qr/Received Accounting-Response/, 'attached');

    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.7',
                                     LocalPort => 0, Proto => 'udp')
        or die "bind: $!";
    my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));
    $sock->send(JSON::XS::encode_json({ services => [
        { service_id => 'WaterMeter',
          properties => { temperature => 33, unknown => 1 },
          event_time => '20260101T000000Z' },
        { service_id => 'Gas', properties => { x => 1 } } ] }), 0, $to);

    my $sh;
    ok(IoT::Test::wait_until(sub {
        (undef, $sh) = $api->call(GET => "/devices/$did/shadow");
        my ($e) = grep { $_->{service_id} eq 'WaterMeter' }
                  @{ $sh->{shadow} };
        return $e && $e->{reported};
    }, 10), 'a property report: reported');
    my ($e) = grep { $_->{service_id} eq 'WaterMeter' } @{ $sh->{shadow} };
    is_deeply($e->{reported}{properties}, { temperature => 33 },
              "reported: the model's properties only");
    is($e->{reported}{event_time}, '20260101T000000Z',
       "reported: the report's event_time");
    ok(!(grep { $_->{service_id} eq 'Gas' } @{ $sh->{shadow} }),
       'a service the model does not have is left out');

    # frozen: not heard
    is(($api->call(POST => "/devices/$did/freeze"))[0], 200, 'frozen');
    $sock->send(JSON::XS::encode_json({ services => [
        { service_id => 'WaterMeter', properties => { temperature => 44 } }
        ] }), 0, $to);
    select(undef, undef, undef, 0.5);
    (undef, $sh) = $api->call(GET => "/devices/$did/shadow");
    ($e) = grep { $_->{service_id} eq 'WaterMeter' } @{ $sh->{shadow} };
    is($e->{reported}{properties}{temperature}, 33,
       "a frozen device's report is not taken");
}

# ------------------------------------------------------------ restart

($s, my $before) = $api->call(GET => "/devices/$did/shadow");
$t->restart;
($s, $j) = $api->call(GET => "/devices/$did/shadow");
is_deeply($j, $before, 'after a restart: the same shadow');

$t->finish;
done_testing;
