#!/usr/bin/perl
# Field masks: iot_field_mask_default is what a new collection gets for the
# bits its request does not set, iot_field_mask_forced is always set and
# cannot be cleared; /system shows both.  A set bit empties that field of
# the device wherever it leaves the platform in the collections dialect:
# device answers and lists, the history (stored whole, masked when read
# with the collection's mask of now) and live streams.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Socket qw(pack_sockaddr_in inet_aton);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::WebSocket;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'mask-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(
    main_conf => "iot_field_mask_default imei;\niot_field_mask_forced msisdn;\n",
    stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

sub mask { my %m = %{ $_[0] }; return { map { $_ => $m{$_} ? 1 : 0 } keys %m } }

my ($st, $sys) = $api->call(GET => '/system');
is($st, 200, '/system');
is_deeply(mask($sys->{defaultFieldMask}),
          { imsi => 0, imei => 1, msisdn => 1, location => 0 },
          'defaultFieldMask: the default and the forced bits');
is_deeply(mask($sys->{forcedFieldMask}),
          { imsi => 0, imei => 0, msisdn => 1, location => 0 },
          'forcedFieldMask');

my $C = $api->create_collection;
is_deeply(mask($C->{fieldMask}),
          { imsi => 0, imei => 1, msisdn => 1, location => 0 },
          'a new collection gets the default (and the forced bit)');

my $C2 = $api->create_collection({ fieldMask => { imei => JFALSE } });
is_deeply(mask($C2->{fieldMask}),
          { imsi => 0, imei => 0, msisdn => 1, location => 0 },
          'what the request says wins over the default; forced stays');

my @r = $api->call(PATCH => "/collections/$C2->{collectionId}",
                   body => { fieldMask => { msisdn => JFALSE } });
is($r[0], 200, 'PATCH clearing the forced bit is answered');
ok($r[1]{fieldMask}{msisdn}, '... and the forced bit stays set');

my $cid = $C->{collectionId};
my $IMEI = $t->next_imei;
my $D = $api->create_device($cid, { imei => $IMEI });
is($D->{imei}, '', 'the created device is answered with its IMEI masked');
like($D->{imsi}, qr/^\d+$/, '... and its IMSI shown');

my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.31, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"m1\", "
    . 'Calling-Station-Id = "4790000031"', dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device is attached');

my (undef, $G) = $api->call(GET => "/collections/$cid/devices/$D->{deviceId}");
is($G->{imei}, '', 'GET device: IMEI masked');
is($G->{network}{msisdn}, '', '... MSISDN masked (forced)');
is($G->{network}{allocatedIp}, '127.0.0.31', '... the address shown');
my (undef, $L) = $api->call(GET => "/collections/$cid/devices");
is($L->{devices}[0]{imei}, '', 'the list: IMEI masked');

# the unmasked collection shows the same kind of device whole
my $D2 = $api->create_device($C2->{collectionId});
ok(length $D2->{imei}, 'a device of the collection without imei masked shows it');

# history and streams
my $ws = IoT::WebSocket->connect(port => $t->port, path => "/collections/$cid/from",
                                 token => $t->admin_token);
ok($ws->upgraded, 'a stream of the collection');

my $dev = IO::Socket::INET->new(LocalAddr => '127.0.0.31', LocalPort => 0,
                                Proto => 'udp') or die $!;
$dev->send('one', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));

my $f;
while ($f = $ws->recv_frame(5)) { last unless $f->{payload} =~ /keepAlive/ }
my $msg = $f ? json_decode($f->{payload}) : undef;
ok($msg, 'the stream has the message');
is($msg && $msg->{device}{imei}, '', '... with the IMEI masked');
is($msg && $msg->{device}{imsi}, $D->{imsi}, '... the IMSI shown');

my $data;
ok(IoT::Test::wait_until(sub {
    (undef, $data) = $api->call(GET => "/collections/$cid/data");
    return $data && @{ $data->{messages} || [] };
}, 10), 'the history has it');
is($data->{messages}[0]{device}{imei}, '', '... IMEI masked');
is($data->{messages}[0]{device}{imsi}, $D->{imsi}, '... IMSI shown');

# the history is masked when read, with the mask of now
@r = $api->call(PATCH => "/collections/$cid",
                body => { fieldMask => { imsi => JTRUE, imei => JFALSE } });
is($r[0], 200, 'the mask changes: IMSI hidden, IMEI shown');
(undef, $data) = $api->call(GET => "/collections/$cid/devices/$D->{deviceId}/data");
is($data->{messages}[0]{device}{imsi}, '', 'the stored message: IMSI masked now');
is($data->{messages}[0]{device}{imei}, $IMEI, '... and the IMEI shown');
(undef, $G) = $api->call(GET => "/collections/$cid/devices/$D->{deviceId}");
is($G->{imei}, $IMEI, 'GET device follows the new mask: IMEI shown');
is($G->{imsi}, '', '... IMSI hidden');

$t->check_log('field masks');

done_testing;
