#!/usr/bin/perl

# The iotda dialect's devices over the one registry: GET /devices/{id}
# with every field of the spec's answer, GET /devices with limit, marker,
# offset, the page object and each filter's rules (IOTDA.000017 limit,
# .000018 marker, .000009 times, .000010 start after end, .001000 an
# unknown or unreached app_id, .000006 the rest), resource spaces seen
# only by the credentials that reach them, after a restart too.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use POSIX qw(strftime);
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });

my %dev;
for my $i (1 .. 12) {
    my $D = $c->create_device($A->{collectionId},
                              { tags => { name => "a$i" } });
    $dev{ $D->{deviceId} } = $D;
}
my $DB = $c->create_device($B->{collectionId}, { tags => { name => 'b1' } });

my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;

# a device of the things dialect: no IMSI, no IMEI
($st, $h, $raw) = $t->http(POST => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token,
                 'Content-Type' => 'application/json' },
    body => JSON::XS::encode_json({ name => 'thing', clientId => $uuid,
        projectId => $B->{collectionId},
        deviceSpecificationId => '9c359e94-ace1-448c-8ac9-443a7d3d963f' }));
is($st, 201, 'a device of the things dialect') or diag($raw);
my ($thing) = $raw =~ /"id":"([0-9a-f-]{36})"/;
($st, $h, $raw) = $t->http(GET => "/collections/$B->{collectionId}/devices",
    headers => { 'X-API-Token' => $t->admin_token });
my ($noname) = grep { !$_->{imsi} } @{ JSON::XS::decode_json($raw)->{devices} };
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);

my $ra = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::false });
my ($rak, $rsk) = access_key($ra->{token});
my $only_a = IoT::Iotda->new($t, project => $project, ak => $rak,
                             sk => $rsk);

# ------------------------------------------------------------ show

my ($id) = sort keys %dev;
my ($s, $j, $hd) = $api->call(GET => "/devices/$id");
is($s, 200, 'show');
for my $f (qw(app_id app_name device_id node_id gateway_id device_name
              node_type description fw_version sw_version
              device_sdk_version auth_info product_id product_name status
              create_time connection_status_update_time active_time tags
              extension_info)) {
    ok(exists $j->{$f}, "show: $f");
}
is($j->{node_id}, $dev{$id}{imei}, 'node_id: the IMEI');
is($j->{gateway_id}, $id, 'a device made elsewhere is its own gateway');
is($j->{node_type}, 'GATEWAY', 'node_type GATEWAY');
is($j->{status}, 'INACTIVE', 'never attached: INACTIVE');
like($j->{create_time}, qr/^\d{8}T\d{6}Z\z/, "create_time yyyyMMdd'T'HHmmss'Z'");
is(ref $j->{tags}, 'ARRAY', 'tags: an array');
is(ref $j->{extension_info}, 'HASH', 'extension_info: an object');
ok(!exists $j->{auth_info}{secret}, 'auth_info: no secret');
is(JSON::XS::encode_json([$j->{auth_info}{secure_access},
                          $j->{auth_info}{timeout}]), '[true,0]',
   'auth_info: secure_access a boolean, timeout a number');

($s, $j) = $api->call(GET => "/devices/$noname->{deviceId}");
is($s, 200, 'a device with no IMSI or IMEI');
is($j->{node_id}, $noname->{deviceId}, 'its node_id: its id');
is($j->{device_name}, 'thing', 'its device_name: its things name');

# ------------------------------------------------------------ list

sub list {
    my ($client, $query) = @_;
    my ($s, $j, $h, $raw) = $client->call(GET => '/devices', query => $query);
    return ($s, $j, $raw);
}

my ($ls, $lj) = list($api, '');
is($ls, 200, 'list');
is($lj->{page}{count}, 14, 'page.count: every device');
is(scalar @{ $lj->{devices} }, 10, 'limit: 10 by default');
like($lj->{page}{marker}, qr/^[0-9a-f]{24}\z/, 'page.marker: 24 hex digits');
ok(!exists $lj->{devices}[0]{$_}, "list items have no $_")
    for qw(auth_info create_time connection_status_update_time active_time
           extension_info);

# every device once, page by page, through the marker
my (@seen, $marker);
for (1 .. 10) {
    my ($s, $j) = list($api, 'limit=3'
                       . (defined $marker ? "&marker=$marker" : ''));
    is($s, 200, 'a page') or last;
    is($j->{page}{count}, 14, 'count: all of them on every page');
    push @seen, map { $_->{device_id} } @{ $j->{devices} };
    last unless @{ $j->{devices} };
    $marker = $j->{page}{marker};
}
is(scalar @seen, 14, 'pages through the marker: 14 devices');
my %once;
$once{$_}++ for @seen;
is(scalar keys %once, 14, 'each once');
is_deeply([@seen], [sort @seen], "in the registry's order");

($ls, $lj) = list($api, 'limit=2&offset=3');
is_deeply([map { $_->{device_id} } @{ $lj->{devices} }], [@seen[3, 4]],
          'offset: after the first 3');
($ls, $lj) = list($api, 'limit=50&marker=ffffffffffffffffffffffff');
is(scalar @{ $lj->{devices} }, 14, 'the default marker: from the start');
($ls, $lj) = list($api, 'limit=50&offset=500');
is_deeply($lj->{devices}, [], 'offset 500: nothing');
is($lj->{page}{count}, 14, 'offset 500: the count');
ok(!exists $lj->{page}{marker}, 'an empty page has no marker');

# filters
($ls, $lj) = list($api, "app_id=$B->{collectionId}&limit=50");
is($lj->{page}{count}, 2, 'app_id: its devices');
($ls, $lj) = list($api, 'device_name=a7');
is_deeply([map { $_->{device_name} } @{ $lj->{devices} }], ['a7'],
          'device_name');
($ls, $lj) = list($api, "node_id=$dev{$id}{imei}");
is_deeply([map { $_->{device_id} } @{ $lj->{devices} }], [$id], 'node_id');
($ls, $lj) = list($api, 'product_id=prod-1');
is($lj->{page}{count}, 0, 'product_id: no device has a product yet');
($ls, $lj) = list($api, "gateway_id=$id&is_cascade_query=true");
is($lj->{page}{count}, 0, 'gateway_id: no device has children yet');
my $now = time;
my $before = strftime('%Y%m%dT%H%M%SZ', gmtime($now - 3600));
my $after = strftime('%Y%m%dT%H%M%SZ', gmtime($now + 3600));
($ls, $lj) = list($api, "start_time=$before&end_time=$after");
is($lj->{page}{count}, 14, 'start_time, end_time: all made in between');
($ls, $lj) = list($api, "start_time=$after");
is($lj->{page}{count}, 0, 'start_time after now: none');
($ls, $lj) = list($api, "end_time=$before");
is($lj->{page}{count}, 0, 'end_time before: none');
($ls, $lj) = list($api, 'unknown=1&limit=1');
is($ls, 200, 'unknown parameters are ignored');

# bad values, in the dialect's error format
for my $case (
    ['limit=0', 'IOTDA.000017'], ['limit=51', 'IOTDA.000017'],
    ['limit=x', 'IOTDA.000017'], ['limit=', 'IOTDA.000017'],
    ['marker=fff', 'IOTDA.000018'],
    ['marker=gggggggggggggggggggggggg', 'IOTDA.000018'],
    ['offset=501', 'IOTDA.000006'], ['offset=-1', 'IOTDA.000006'],
    ['start_time=2024-01-01', 'IOTDA.000009'],
    ['end_time=20241301T000000Z', 'IOTDA.000009'],
    ["start_time=$after&end_time=$before", 'IOTDA.000010'],
    ['app_id=' . ('a' x 37), 'IOTDA.000006'],
    ['app_id=a%20b', 'IOTDA.000006'],
    ['product_id=a.b', 'IOTDA.000006'],
    ['gateway_id=' . ('g' x 129), 'IOTDA.000006'],
    ['node_id=' . ('n' x 65), 'IOTDA.000006'],
    ['node_id=a/b', 'IOTDA.000006'],
    ['device_name=' . ('d' x 257), 'IOTDA.000006'],
    ['is_cascade_query=yes', 'IOTDA.000006'],
) {
    my ($q, $code) = @$case;
    is_iotda_error([$api->call(GET => '/devices', query => $q)], 400, $code,
                   "list ?$q");
}
is_iotda_error([$api->call(GET => '/devices', query => 'app_id=zzzzzzzzzzzzz')],
               403, 'IOTDA.001000', 'an unknown app_id');

# ------------------------------------------------------------ isolation

($ls, $lj) = list($only_a, 'limit=50');
is($ls, 200, "A's key lists");
is($lj->{page}{count}, 12, "A's key: only A's devices are counted");
ok(!(grep { $_->{app_id} ne $A->{collectionId} } @{ $lj->{devices} }),
   "A's key: only A's devices are listed");
is_iotda_error([$only_a->call(GET => '/devices',
                              query => "app_id=$B->{collectionId}")],
               403, 'IOTDA.001000', "A's key: B as app_id does not exist");
is_iotda_error([$only_a->call(GET => "/devices/$DB->{deviceId}")],
               404, 'IOTDA.014000', "A's key: B's device does not exist");
($ls, $lj) = list($only_a, 'device_name=b1');
is($lj->{page}{count}, 0, "A's key: B's device not found by name");

# ------------------------------------------------------------ restart

$t->restart;
($ls, $lj) = list($api, 'limit=50');
is($lj->{page}{count}, 14, 'after a restart: the same devices');
is_deeply([map { $_->{device_id} } @{ $lj->{devices} }], [@seen],
          'after a restart: in the same order');

# a resource space's name with what JSON escapes, shown and listed as it is
{
    my $odd = "q\"uote \\ back/slash \x{e9}t\x{e9} \x{2713}\ttab";
    my $O = $c->create_collection({ tags => { name => $odd } });
    my $DO = $c->create_device($O->{collectionId});
    my ($so, $jo) = $api->call(GET => "/devices/$DO->{deviceId}");
    is($so, 200, 'a device of a space with an odd name');
    is($jo->{app_name}, $odd, '... app_name as the name tag has it');
    my (undef, $lo) = $api->call(GET => '/devices',
                                 query => "app_id=$O->{collectionId}");
    is($lo->{devices}[0]{app_name}, $odd, '... in the list too');
}

$t->finish;
done_testing;
