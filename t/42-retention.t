#!/usr/bin/perl
# History retention: at most iot_history_max_count messages per collection
# (the oldest go), none older than iot_history_max_age, enforced in the
# background even when no message arrives.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'retention-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2,
    main_conf => "iot_history_max_age 6s;\niot_history_max_count 5;\n",
    stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $D = $api->create_device($cid);
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.20, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"r1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'attached');

my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.20', LocalPort => 0,
                              Proto => 'udp') or die $!;
for my $n (1 .. 8) {
    $s->send("m$n", 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
    select(undef, undef, undef, 0.02);
}

sub stored {
    my (undef, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
    return $j ? [ map { decode_base64($_->{payload}) } @{ $j->{messages} } ]
              : [];
}

my $got;
ok(IoT::Test::wait_until(sub { $got = stored(); @$got == 5 }, 20),
   'the collection keeps its newest 5') or diag("@$got");
is_deeply($got, [ map { "m$_" } reverse 4 .. 8 ], '... m4 to m8, newest first');

ok(IoT::Test::wait_until(sub { $got = stored(); @$got == 0 }, 30),
   'and after the age limit, with nothing new arriving, none') or diag("@$got");

$t->check_log('retention');
$t->finish;
done_testing;
