#!/usr/bin/perl
# Downlink state: every downlink (POST .../to) is kept in the store with its
# state, shown newest first by GET .../downlinks of the device and of the
# collection: "sent" for a datagram that went, "failed" with the reason for
# one that could not.  The records survive a restart; a collection keeps at
# most about iot_downlink_keep of them; a token of another collection sees
# none of them.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64 decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'downlink-secret';
my $KEEP = 100;
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2,
    main_conf => "iot_downlink_keep $KEEP;\n",
    stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my @dev = map { $api->create_device($cid) } 0 .. 1;
my $other = $api->create_collection->{collectionId};
my $odev = $api->create_device($other);

my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"s1\", "
    . "Framed-IP-Address = 127.0.0.2, 3GPP-IMSI = \"$dev[0]{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'device 0 attached');

my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.2', LocalPort => 0,
                                 Proto => 'udp') or die "bind: $!";
my $sel = IO::Select->new($sock);
my $port = $sock->sockport;

sub downlinks {
    my ($path, $query, %o) = @_;
    my ($s, $j) = $api->call(GET => "$path/downlinks" . ($query // ''), %o);
    return ($s, $j ? $j->{downlinks} : undef);
}

# ---- nothing sent yet
my ($s, $l) = downlinks("/collections/$cid/devices/$dev[0]{deviceId}");
is($s, 200, 'GET device downlinks is 200');
is_deeply($l, [], '... and empty before any downlink');

# ---- one that went, one that could not
my $t0 = int(time * 1000) - 1000;
my @r = $api->call(POST => "/collections/$cid/devices/$dev[0]{deviceId}/to",
                   body => { port => $port, payload => encode_base64("a\x00b", '') });
is($r[0], 204, 'downlink to the attached device: 204');
ok($sel->can_read(5), '... the device got it');
$sock->recv(my $buf, 4096, 0);
is($buf, "a\x00b", '... the payload');

@r = $api->call(POST => "/collections/$cid/devices/$dev[1]{deviceId}/to",
                body => { port => 4000, payload => 'aGk=' });
is_error(\@r, 409, 'downlink to a device without an address');

($s, $l) = downlinks("/collections/$cid/devices/$dev[0]{deviceId}");
is($s, 200, 'device 0 downlinks');
is(scalar @$l, 1, '... one');
my $d = $l->[0];
is_deeply([ sort keys %$d ],
          [ sort qw(id collectionId deviceId transport port payload state
                    created updated) ],
          '... with the documented keys (no reason when it went)');
is($d->{state}, 'sent', '... state sent');
is($d->{transport}, 'udp', '... transport udp');
is($d->{port}, $port, '... the port');
is(decode_base64($d->{payload}), "a\x00b", '... the payload');
is($d->{deviceId}, $dev[0]{deviceId}, '... the device');
is($d->{collectionId}, $cid, '... the collection');
ok($d->{created} >= $t0 && $d->{created} <= time * 1000 + 1000,
   '... created now (ms)');
is($d->{updated}, $d->{created}, '... not changed since');
like($d->{id}, qr/^[0-9a-z]+$/, '... an id');

($s, $l) = downlinks("/collections/$cid/devices/$dev[1]{deviceId}");
is(scalar @$l, 1, 'device 1: one downlink');
is($l->[0]{state}, 'failed', '... failed');
is($l->[0]{reason}, 'the device has no known address', '... with the reason');

# ---- the whole collection: one record per device
@r = $api->call(POST => "/collections/$cid/to",
                body => { port => $port, payload => 'YWxs' });
is($r[0], 200, 'collection downlink');
is($r[1]{sent}, 1, '... sent to one');
ok($sel->can_read(5), '... which got it');
$sock->recv($buf, 4096, 0);

($s, $l) = downlinks("/collections/$cid");
is($s, 200, 'collection downlinks');
is(scalar @$l, 4, '... all four, newest first');
is_deeply([ map { decode_base64($_->{payload}) } @$l ],
          [ 'all', 'all', 'hi', "a\x00b" ], '... in order');
is_deeply([ sort map { $_->{state} } @$l[0, 1] ], [ 'failed', 'sent' ],
          '... the collection-wide one sent to one, failed for the other');
my %ids = map { $_->{id} => 1 } @$l;
is(scalar keys %ids, 4, '... each with its own id');

($s, $l) = downlinks("/collections/$cid", '?limit=2');
is(scalar @$l, 2, 'limit=2: two');
is(decode_base64($l->[0]{payload}), 'all', '... the newest');

# ---- bad input and other tenants
@r = $api->call(GET => "/collections/$cid/downlinks?limit=x");
is_error(\@r, 400, 'limit that is not a number');
@r = $api->call(GET => "/collections/$cid/devices/nosuchdevice/downlinks");
is_error(\@r, 404, 'unknown device');
@r = $api->call(GET => "/collections/$cid/devices/$odev->{deviceId}/downlinks");
is_error(\@r, 404, "another collection's device under this collection");
@r = $api->call(POST => "/collections/$cid/downlinks", body => {});
is($r[0], 405, 'POST downlinks: 405');

my $tok = $api->create_token({ resource => "/collections/$other" })->{token};
@r = $api->call(GET => "/collections/$cid/downlinks", token => $tok);
ok($r[0] == 403 || $r[0] == 404, "another collection's token cannot list them")
    or diag("status $r[0]");
@r = $api->call(GET => "/collections/$cid/devices/$dev[0]{deviceId}/downlinks",
                token => $tok);
ok($r[0] == 403 || $r[0] == 404, '... nor those of a device')
    or diag("status $r[0]");
($s, $l) = downlinks("/collections/$other", '', token => $tok);
is($s, 200, 'its own collection');
is_deeply($l, [], '... has none');

# ---- they survive a restart
$t->restart;
($s, $l) = downlinks("/collections/$cid");
is(scalar @$l, 4, 'after a restart: all four');
ok(exists $ids{ $l->[0]{id} }, '... with the same ids');

# ---- a collection keeps about iot_downlink_keep (trimmed every 64)
my $n = 0;
for my $i (1 .. $KEEP + 100) {
    my ($st) = $api->call(POST => "/collections/$cid/devices/$dev[1]{deviceId}/to",
                          body => { port => 4000, payload => encode_base64("n$i", '') });
    $n++ if $st == 409;
}
is($n, $KEEP + 100, 'many more downlinks answered');
($s, $l) = downlinks("/collections/$cid", '?limit=0');
ok(@$l >= $KEEP && @$l <= $KEEP + 64,
   "the collection keeps between $KEEP and " . ($KEEP + 64))
    or diag(scalar @$l . ' kept');
is(decode_base64($l->[0]{payload}), 'n' . ($KEEP + 100), '... the newest first');
($s, $l) = downlinks("/collections/$other", '?limit=0');
is_deeply($l, [], 'the other collection is untouched');

$t->check_log('downlink state');

done_testing;
