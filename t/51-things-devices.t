#!/usr/bin/perl
# The things dialect's /devices: create with every field rule, get by the
# seven forms of {deviceId} in any case, PUT as a full update, DELETE 204;
# bad input answered as problem details with nothing stored; credentials
# (Bearer), read-only tokens, one project's token never reaching another's
# devices; the same devices in the collections dialect; lists, their
# filters and pages.

use strict;
use warnings;
use utf8;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

my $A = $col->create_collection({ tags => { n => 'A' } });
my $B = $col->create_collection({ tags => { n => 'B' } });
my ($aid, $bid) = ($A->{collectionId}, $B->{collectionId});

# the client and the projects' UUIDs, from a device of each
my $seed = $col->create_device($aid);
my ($st, $S) = $api->call(GET => "/devices/imei:$seed->{imei}");
is($st, 200, 'a device of collection A in the things dialect');
$api->{client_id} = $S->{clientId};
my $PA = $S->{projectId};
my $seedb = $col->create_device($bid);
my $PB = ($api->call(GET => "/devices/imei:$seedb->{imei}"))[1]{projectId};
like($PB, $UUID_RE, 'project B');

my $SPEC = '9c359e94-ace1-448c-8ac9-443a7d3d963f';

sub count_devices {
    my $n = 0;
    for my $c ($aid, $bid) {
        my ($s, $l) = $col->call(GET => "/collections/$c/devices");
        $n += scalar @{ $l->{devices} || [] };
    }
    return $n;
}

# ---- create

my ($h, $raw);
($st, my $D, $h) = $api->call(POST => '/devices', body => $api->device_body(
    $PA, { name => 'first', description => 'a device', barcode => '0123456789',
           status => 'ACTIVE', id => '36e75427-4c6e-438c-89b5-0cbdb0d4068c',
           createdAt => '2001-01-01T00:00:00.000Z', createdBy => 'me',
           unknownField => 1 }));
is($st, 201, 'POST /devices is 201');
like($h->{'content-type'} // '', qr{^application/json\b}, 'JSON answer');
is_deeply([ sort keys %$D ],
          [ sort qw(id name status barcode description clientId projectId
                    deviceSpecificationId createdAt createdBy modifiedAt
                    modifiedBy) ], 'every field of a device');
like($D->{id}, $UUID_RE, 'id is a UUID');
isnt($D->{id}, '36e75427-4c6e-438c-89b5-0cbdb0d4068c', 'a given id is ignored');
is($D->{name}, 'first', 'name');
is($D->{description}, 'a device', 'description');
is($D->{barcode}, '0123456789', 'barcode, a string');
is($D->{status}, 'ACTIVE', 'status');
is($D->{projectId}, $PA, 'projectId');
is($D->{clientId}, $S->{clientId}, 'clientId');
is($D->{deviceSpecificationId}, $SPEC, 'deviceSpecificationId');
like($D->{createdAt}, $TIME_RE, 'createdAt, ISO 8601 with milliseconds');
isnt($D->{createdAt}, '2001-01-01T00:00:00.000Z', 'a given createdAt is ignored');
is($D->{modifiedAt}, $D->{createdAt}, 'modifiedAt = createdAt at first');
like($D->{createdBy}, $PRINCIPAL_RE, 'createdBy is a principal');
is($D->{modifiedBy}, $D->{createdBy}, 'modifiedBy likewise');

# the same device in the collections dialect
{
    my ($s, $l) = $col->call(GET => "/collections/$aid/devices");
    my ($c) = grep { ($_->{tags}{name} // '') eq 'first' } @{ $l->{devices} };
    ok($c, 'the collections dialect lists it in its collection');
    is($c->{imsi}, '', 'no IMSI');
    is($c->{imei}, '', 'no IMEI');
}

# a minimal device: optional fields absent
my $M = $api->create_device($PA, { name => 'minimal' });
ok(!exists $M->{$_}, "no $_ when not given") for qw(description barcode status);

# two devices without IMSI or IMEI can both exist
my $M2 = $api->create_device($PA, { name => 'minimal 2' });
isnt($M2->{id}, $M->{id}, 'two devices without cellular identities');

# 255 characters, counted as characters
my $long = 'é' x 255;
my $L = $api->create_device($PA, { name => $long, description => $long,
                                   barcode => 'b' x 255 });
is($L->{name}, $long, '255 two-byte characters are a valid name');

# ---- bad input: problem details, nothing stored

my $before = count_devices();
my @bad = (
    [ 'no name',            { name => undef },        qr/name/ ],
    [ 'empty name',         { name => '' },           qr/name/ ],
    [ 'blank name',         { name => " \t " },       qr/name/ ],
    [ 'name of 256',        { name => 'x' x 256 },    qr/name/ ],
    [ 'name a number',      { name => 5 },            qr/name/ ],
    [ 'description of 256', { description => 'x' x 256 }, qr/description/ ],
    [ 'blank description',  { description => '   ' }, qr/description/ ],
    [ 'barcode of 256',     { barcode => 'é' x 256 }, qr/barcode/ ],
    [ 'barcode an object',  { barcode => {} },        qr/barcode/ ],
    [ 'status unknown',     { status => 'ON' },       qr/status/ ],
    [ 'status lower case',  { status => 'active' },   qr/status/ ],
    [ 'no clientId',        { clientId => undef },    qr/clientId/ ],
    [ 'another clientId',   { clientId => '7098dc22-fed5-4d9e-8e68-6c6f853eac0c' },
      qr/clientId/ ],
    [ 'clientId garbage',   { clientId => 'x' },      qr/clientId/ ],
    [ 'no projectId',       { projectId => undef },   qr/projectId/ ],
    [ 'unknown projectId',  { projectId => 'b6a883a8-41f9-428e-a8a1-4597de54fec6' },
      qr/projectId/ ],
    [ 'unknown collection id', { projectId => '0000000000001' }, qr/projectId/ ],
    [ 'no deviceSpecificationId', { deviceSpecificationId => undef },
      qr/deviceSpecificationId/ ],
    [ 'deviceSpecificationId not a UUID', { deviceSpecificationId => 'abc' },
      qr/deviceSpecificationId/ ],
);
for my $b (@bad) {
    my ($name, $over, $re) = @$b;
    my $body = $api->device_body($PA, $over);
    delete $body->{$_} for grep { !defined $over->{$_} && exists $over->{$_} }
                           keys %$over;
    is_problem([ $api->call(POST => '/devices', body => $body) ], 400,
               "POST: $name", $re);
}
is_problem([ $api->call(POST => '/devices', body => '{"name":') ], 400,
           'POST: not JSON');
is_problem([ $api->call(POST => '/devices', body => '[1]') ], 400,
           'POST: not an object');
is(count_devices(), $before, 'no bad request stored a device');

# ---- the seven forms of {deviceId}

my $C1 = $col->create_device($aid, { tags => { name => 'cellular' } });
my $U = ($api->call(GET => "/devices/imei:$C1->{imei}"))[1]{id};
for my $form ($U, uc $U, "imei:$C1->{imei}", "IMEI:$C1->{imei}",
              "urn:dev:imei:$C1->{imei}", "urn:dev:imei:$C1->{imei}:",
              "URN:DEV:IMEI:$C1->{imei}")
{
    my ($s, $j) = $api->call(GET => "/devices/$form");
    is($s, 200, "GET /devices/$form");
    is($j->{id}, $U, "$form: the same device");
}

for my $form ('deveui:0011223344556677', 'DEVEUI:00112233445566AA',
              'urn:dev:deveui:0011223344556677:',
              'dvnuuid:5b1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a6b',
              'urn:dev:dvnuuid:5b1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a6b',
              '5b1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a6b',
              'imei:999999999999999')
{
    is_problem([ $api->call(GET => "/devices/$form") ], 404,
               "GET /devices/$form: a valid form, no such device");
}

for my $form ('xyz', 'imei:12345', 'imei:12345678901234567',
              'imei:35265000000000x', 'deveui:00112233445566', 'deveui:zz112233445566aa',
              'dvnuuid:nope', 'urn:dev:imsi:242010000000001', 'urn:imei:352650000000001',
              $col->create_device($aid)->{deviceId})
{
    is_problem([ $api->call(GET => "/devices/$form") ], 400,
               "GET /devices/$form: not a form of deviceId", qr/deviceId/);
}

# ---- PUT: a full update

($st, my $P) = $api->call(PUT => "/devices/$D->{id}", body => $api->device_body(
    $PA, { name => 'renamed', status => 'INACTIVE', createdAt => 'x',
           id => $M->{id} }));
is($st, 200, 'PUT is 200');
is($P->{id}, $D->{id}, 'the same device (a body id is ignored)');
is($P->{name}, 'renamed', 'name changed');
is($P->{status}, 'INACTIVE', 'status changed');
ok(!exists $P->{description}, 'description left out: cleared');
ok(!exists $P->{barcode}, 'barcode left out: cleared');
is($P->{createdAt}, $D->{createdAt}, 'createdAt kept');
ok($P->{modifiedAt} ge $D->{modifiedAt}, 'modifiedAt moved on');
is_deeply(($api->call(GET => "/devices/$D->{id}"))[1], $P,
          'GET shows what PUT answered');
{
    my ($s, $l) = $col->call(GET => "/collections/$aid/devices");
    ok((grep { ($_->{tags}{name} // '') eq 'renamed' } @{ $l->{devices} }),
       'the collections dialect sees the new name in tags.name');
}

# the collections dialect's other tags survive a PUT
{
    my ($s, $j) = $col->call(PATCH => "/collections/$aid/devices/$C1->{deviceId}",
                             body => { tags => { colour => 'red' } });
    is($s, 200, 'a tag set in the collections dialect');
    ($s, $j) = $api->call(PUT => "/devices/$U",
                          body => $api->device_body($PA, { name => 'cell 2' }));
    is($s, 200, 'PUT of that device');
    ($s, $j) = $col->call(GET => "/collections/$aid/devices/$C1->{deviceId}");
    is_deeply($j->{tags}, { name => 'cell 2', colour => 'red' },
              'tags.name follows, the other tags stay');
    is($j->{imei}, $C1->{imei}, 'the IMEI stays');
}

# moving a device to another project
($st, $P) = $api->call(PUT => "/devices/$M2->{id}",
                       body => $api->device_body($PB, { name => 'moved' }));
is($st, 200, 'PUT with another projectId');
is($P->{projectId}, $PB, 'the device moved');

# bad PUTs change nothing
my $snap = ($api->call(GET => "/devices/$D->{id}"))[1];
for my $b (@bad[0, 3, 9, 12, 15, 18]) {
    my ($name, $over, $re) = @$b;
    my $body = $api->device_body($PA, $over);
    delete $body->{$_} for grep { !defined $over->{$_} } keys %$over;
    is_problem([ $api->call(PUT => "/devices/$D->{id}", body => $body) ],
               400, "PUT: $name", $re);
}
is_deeply(($api->call(GET => "/devices/$D->{id}"))[1], $snap,
          'the device is as it was');
is_problem([ $api->call(PUT => '/devices/imei:999999999999999',
                        body => $api->device_body($PA)) ], 404,
           'PUT of no such device');

# ---- methods and paths

($st, undef, $h) = $api->call(PATCH => "/devices/$D->{id}", body => {});
is($st, 405, 'PATCH is 405');
is($h->{allow}, 'GET, PUT, DELETE', 'with Allow');
like($h->{'content-type'} // '', qr{^application/problem\+json}, 'as a problem');
is_problem([ $api->call(GET => "/devices/$D->{id}/nothing/here") ], 404,
           'an unknown path');
is_problem([ $api->call(DELETE => '/devices') ], 405, 'DELETE /devices');

# ---- credentials and scopes

($st, undef, $h) = $api->call(GET => '/devices', token => undef);
is_problem([ $api->call(GET => '/devices', token => undef) ], 401,
           'no credentials');
like($h->{'www-authenticate'} // '', qr/^Bearer/, 'WWW-Authenticate: Bearer');
is_problem([ $api->call(GET => '/devices',
                        headers => { Authorization => 'Basic eDp5' }) ], 401,
           'not a Bearer token');
is_problem([ $api->call(GET => '/devices', token => 'f' x 64) ], 401,
           'an unknown token');

my $ro = $col->create_token({ resource => '/' })->{token};
is(($api->call(GET => "/devices/$D->{id}", token => $ro))[0], 200,
   'a read-only token reads');
is_problem([ $api->call(POST => '/devices', token => $ro,
                        body => $api->device_body($PA)) ], 403,
           'a read-only token cannot create', qr/read-only/);
is_problem([ $api->call(PUT => "/devices/$D->{id}", token => $ro,
                        body => $api->device_body($PA)) ], 403,
           'a read-only token cannot PUT');
is_problem([ $api->call(DELETE => "/devices/$D->{id}", token => $ro) ], 403,
           'a read-only token cannot DELETE');

# a token of project A never reaches project B's devices
my $ta = $col->create_token({ resource => "/collections/$aid",
                              write => JTRUE })->{token};
my $DB = $api->create_device($PB, { name => 'of B' });
my $snapb = ($api->call(GET => "/devices/$DB->{id}"))[1];
is_problem([ $api->call(GET => "/devices/$DB->{id}", token => $ta) ], 404,
           'A\'s token: B\'s device does not exist');
is_problem([ $api->call(GET => "/devices/imei:$seedb->{imei}", token => $ta) ],
           404, 'A\'s token: not by IMEI either');
is_problem([ $api->call(PUT => "/devices/$DB->{id}", token => $ta,
                        body => $api->device_body($PA)) ], 404,
           'A\'s token cannot change B\'s device');
is_problem([ $api->call(DELETE => "/devices/$DB->{id}", token => $ta) ], 404,
           'A\'s token cannot delete B\'s device');
is_problem([ $api->call(POST => '/devices', token => $ta,
                        body => $api->device_body($PB)) ], 400,
           'A\'s token cannot create in B', qr/projectId/);
is_problem([ $api->call(PUT => "/devices/$M->{id}", token => $ta,
                        body => $api->device_body($PB)) ], 400,
           'A\'s token cannot move a device into B', qr/projectId/);
is_deeply(($api->call(GET => "/devices/$DB->{id}"))[1], $snapb,
          'B\'s device is as it was');
is(($api->call(GET => "/devices/$M->{id}"))[1]{projectId}, $PA,
   'A\'s device stayed in A');
{
    my ($s, $l) = $api->call(GET => '/devices?limit=1000', token => $ta);
    is($s, 200, 'A\'s token lists');
    ok(@{ $l->{items} } && !(grep { $_->{projectId} ne $PA } @{ $l->{items} }),
       'only devices of A');
}
my $dev_token = $col->create_token({
    resource => "/collections/$aid/devices/$seed->{deviceId}",
    write => JTRUE })->{token};
is_problem([ $api->call(GET => "/devices/imei:$seed->{imei}",
                        token => $dev_token) ], 404,
           'a token of one device (collections) reaches no project here');
is_deeply(($api->call(GET => '/devices', token => $dev_token))[1],
          { items => [] }, 'and lists nothing');

# ---- DELETE

($st, undef, undef, $raw) = $api->call(DELETE => "/devices/$L->{id}");
is($st, 204, 'DELETE is 204');
is($raw, '', 'with no body');
is_problem([ $api->call(GET => "/devices/$L->{id}") ], 404, 'gone');
is_problem([ $api->call(DELETE => "/devices/$L->{id}") ], 404,
           'DELETE again is 404');
{
    my $c = $col->create_device($aid, { tags => { name => 'doomed' } });
    my $id = ($api->call(GET => "/devices/imei:$c->{imei}"))[1]{id};
    is(($api->call(DELETE => "/devices/urn:dev:imei:$c->{imei}"))[0], 204,
       'DELETE by urn:dev:imei');
    is(($col->call(GET => "/collections/$aid/devices/$c->{deviceId}"))[0], 404,
       'gone from the collections dialect');
    my $c2 = $col->create_device($aid, { tags => { name => 'doomed 2' } });
    my $id2 = ($api->call(GET => "/devices/imei:$c2->{imei}"))[1]{id};
    is(($col->call(DELETE => "/collections/$aid/devices/$c2->{deviceId}"))[0],
       204, 'deleted in the collections dialect');
    is_problem([ $api->call(GET => "/devices/$id2") ], 404,
               'gone from the things dialect');
}

# a device of the collections dialect without a name is named by its id
{
    my $c = $col->create_device($aid);
    my $j = ($api->call(GET => "/devices/imei:$c->{imei}"))[1];
    is($j->{name}, $c->{deviceId}, 'no tags.name: the name is its id');
    ok(!exists $j->{deviceSpecificationId}, 'no device type');
}

# ---- lists

sub walk {
    my ($query, %o) = @_;
    my (@ids, $pages);
    my $next = "?$query";
    while (defined $next) {
        my ($s, $l, undef, $r) = $api->call(GET => "/devices$next", %o);
        return "status $s: $r" unless $s == 200;
        push @ids, map { $_->{id} } @{ $l->{items} };
        $pages++;
        $next = $l->{next};
        return 'too many pages' if $pages > 500;
    }
    return (\@ids, $pages);
}

my $all = (walk('limit=1000'))[0];
ok(ref $all && @$all >= 8, 'the whole list in one page')
    or diag(ref $all ? scalar(@$all) . ' devices' : $all);
my %seen;
ok(!(grep { $seen{$_}++ } @$all), 'no device twice');
my ($paged, $pages) = walk('limit=3');
is_deeply($paged, $all, 'pages of 3 give the same devices in the same order');
ok($pages >= @$all / 3, 'in pages of 3');
{
    my ($s, $l) = $api->call(GET => '/devices?limit=2');
    like($l->{next}, qr/^\?limit=2&cursor=\S+\z/, 'next repeats the query');
}

# a list while devices come and go: nothing skipped, nothing repeated
{
    my ($s, $l) = $api->call(GET => '/devices?limit=4');
    my @got = map { $_->{id} } @{ $l->{items} };
    my $gone = $api->create_device($PA, { name => 'comes and goes' });
    $api->call(DELETE => "/devices/$gone->{id}");
    my ($rest) = walk(substr($l->{next}, 1));
    my %in = map { $_ => 1 } @got, @$rest;
    ok(!(grep { !$in{$_} } @$all), 'no device that stayed was skipped');
    is(scalar(@got) + scalar(@$rest), scalar(keys %in), 'none repeated');
}

# filters
{
    $api->create_device($PA, { name => 'Alpha Sensor', barcode => 'BC-1001' });
    $api->create_device($PA, { name => 'beta', description => 'an ALPHA unit',
                               barcode => 'BC-2002',
                               deviceSpecificationId =>
                                   '11111111-2222-4333-8444-555555555555' });
    my $q = (walk('q=alpha&limit=1000'))[0];
    my @names = sort map { ($api->call(GET => "/devices/$_"))[1]{name} } @$q;
    is_deeply(\@names, [ 'Alpha Sensor', 'beta' ],
              'q: in the name or the description, any case');
    my $bc = (walk('barcode=C-2&limit=1000'))[0];
    is(scalar @$bc, 1, 'barcode: a part of it');
    my $sp = (walk('deviceSpecificationId=11111111-2222-4333-8444-555555555555'
                   . "&deviceSpecificationId=$SPEC&limit=1000"))[0];
    my $sp1 = (walk('deviceSpecificationId=11111111-2222-4333-8444-555555555555'))[0];
    is(scalar @$sp1, 1, 'deviceSpecificationId: one');
    ok(@$sp > 1, 'deviceSpecificationId repeated: either');
    is_deeply((walk('createdSince=2999-01-01T00:00:00Z'))[0], [],
              'createdSince in the future: none');
    is_deeply((walk('createdBefore=2000-01-01T00:00:00.000Z'))[0], [],
              'createdBefore the past: none');
    my $now = (walk('limit=1000'))[0];
    is_deeply((walk('modifiedSince=2000-01-01T00:00:00%2B01:00&limit=1000'))[0],
              $now, 'modifiedSince the past (an offset): all');
    is_deeply((walk("clientId=$S->{clientId}&limit=1000"))[0], $now,
              'clientId: ours, all');
    is_deeply((walk('clientId=7098dc22-fed5-4d9e-8e68-6c6f853eac0c'))[0], [],
              'clientId: another, none');
    my ($fp) = walk('q=a&limit=1');
    my ($fa) = walk('q=a&limit=1000');
    is_deeply($fp, $fa, 'a filtered list in pages of 1: the same');
}

for my $q ('limit=0', 'limit=1001', 'limit=x', 'cursor=nope', 'q=',
           'createdSince=yesterday', 'createdBefore=2024-02-30T00:00:00Z',
           'modifiedSince=2024-01-01', 'clientId=x',
           'deviceSpecificationId=x', 'sort=color', 'sort=name,-name',
           'sort=-', 'sort=name,', 'cursor=AQ')
{
    is_problem([ $api->call(GET => "/devices?$q") ], 400, "GET /devices?$q");
}

# ---- survives a restart

my %keep = map { $_ => ($api->call(GET => "/devices/$_"))[1] } @$all;
$t->restart;
is_deeply({ map { $_ => ($api->call(GET => "/devices/$_"))[1] } @$all },
          \%keep, 'after a restart every device is as it was');

$t->finish;
done_testing;
