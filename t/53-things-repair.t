#!/usr/bin/perl
# Writes of the things dialect that never committed: a worker killed (by
# gdb, in its writer thread at the batch's commit) after the write changed
# the zone.  The next process reloads what the write named from the store:
# an adapter that was being added is not there and its identifier is free;
# a cellular adapter's IMEI is not the device's; an adapter or a device
# whose deletion never committed is there with its adapters; a device's
# fields are as the store has them; a membership, a group's deletion and
# a device's move (which takes it out of its groups) likewise.

use strict;
use warnings;
use Test::More;
use POSIX ();
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;
use IO::Socket::INET;

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};

# one worker: the request must land on the worker gdb holds
my $t = IoT::Test->new(workers => 1, location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

my $C = $col->create_collection;
$api->{client_id} = $C->{teamId};
my $cid = $C->{collectionId};

my $DVN = '0b1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a6b';
my $EUI = 'a011223344556677';
my $SECRET = 'k' x 40;

# the write stops at its batch's commit and its worker dies there
sub cut {
    my ($method, $path, $body) = @_;
    my ($w) = $t->workers;

    my $gdb = $t->gdb($w, ['break ngx_iot_store_commit', 'continue', 'kill'],
                      timeout => 60);

    ok(IoT::Test::wait_until(sub { $t->traced_by($w) }, 30), 'gdb attached');
    sleep 2;

    my $kid = fork // die;
    if ($kid == 0) {
        my $json = defined $body ? json_encode($body) : '';
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port, Proto => 'tcp')
            or POSIX::_exit(1);
        print $s "$method $path HTTP/1.0\r\n"
                 . "Authorization: Bearer " . $t->admin_token . "\r\n"
                 . "Content-Type: application/json\r\n"
                 . "Content-Length: " . length($json) . "\r\n\r\n$json";
        my $answer = do { local $/; <$s> };
        POSIX::_exit(0);
    }

    my $out = do { local $/; <$gdb> };
    close $gdb;
    waitpid $kid, 0;

    like($out, qr/ngx_iot_store_commit/, "$method $path: stopped at the commit");

    ok(IoT::Test::wait_until(sub {
        my @w = $t->workers;
        return @w == 1 && $w[0] != $w
               && (($api->call(GET => '/devices'))[0] // 0) == 200;
    }, 30), 'the master started a new worker');
}

sub adapters {
    my ($dev) = @_;
    my ($s, $j) = $api->call(GET => "/devices/$dev/network-adapters");
    return $s == 200 ? [ map { $_->{type} } @{ $j->{items} } ] : "status $s";
}

my $D = $api->create_device($cid, { name => 'd', description => 'before' });
my $url = "/devices/$D->{id}/network-adapters";

# an adapter that never committed
cut(POST => $url, { type => 'generic', dvnUuid => $DVN,
                    sharedSecret => $SECRET });
is_deeply(adapters($D->{id}), [], 'the uncommitted adapter is not there');
is_problem([ $api->call(GET => "/devices/dvnuuid:$DVN") ], 404,
           'its DVN UUID finds nothing');
my ($st, $G) = $api->call(POST => $url, body => { type => 'generic',
    dvnUuid => $DVN, sharedSecret => $SECRET });
is($st, 201, 'its DVN UUID is free in the zone');

# a cellular adapter that never committed: the IMEI is not the device's
my $imei = $t->next_imei;
cut(POST => $url, { type => 'cellular', imei => $imei });
is_deeply(adapters($D->{id}), ['generic'], 'no cellular adapter');
is_problem([ $api->call(GET => "/devices/imei:$imei") ], 404,
           'the IMEI finds nothing');
{
    my ($s, $l) = $col->call(GET => "/collections/$cid/devices");
    my ($d) = grep { ($_->{tags}{name} // '') eq 'd' } @{ $l->{devices} };
    is($d ? $d->{imei} : 'none', '', 'the device has no IMEI');
}
is(($col->call(POST => "/collections/$cid/devices",
               body => { imsi => $t->next_imsi, imei => $imei }))[0], 201,
   'the IMEI is free for another device');

($st) = $api->call(POST => $url, body => { type => 'lora', devEui => $EUI });
is($st, 201, 'a LoRa adapter');

# the deletion of an adapter that never committed
my $L = (grep { $_->{type} eq 'lora' }
         @{ ($api->call(GET => $url))[1]{items} })[0];
cut(DELETE => "$url/$L->{id}");
is_deeply(adapters($D->{id}), [qw(lora generic)], 'the adapter is there');
is(($api->call(GET => "/devices/deveui:$EUI"))[1]{id}, $D->{id},
   'and found by its DevEUI');

# a device's change that never committed
cut(PUT => "/devices/$D->{id}", $api->device_body($cid, { name => 'd2' }));
{
    my ($s, $j) = $api->call(GET => "/devices/$D->{id}");
    is($j->{name}, 'd', 'the name the store has');
    is($j->{description}, 'before', 'the description the store has');
}

# the deletion of a device that never committed: with its adapters
cut(DELETE => "/devices/$D->{id}");
is_deeply(adapters($D->{id}), [qw(lora generic)],
          'the device is there with its adapters');
is(($api->call(GET => "/devices/dvnuuid:$DVN"))[1]{id}, $D->{id},
   'found by its DVN UUID');

is(($api->call(DELETE => "/devices/$D->{id}"))[0], 204, 'it can be deleted');
is_problem([ $api->call(GET => "/devices/deveui:$EUI") ], 404,
           'and its adapters went with it');

# device groups: a membership, a group's deletion, a device's move
my $E = $api->create_device($cid, { name => 'e' });
my ($gs, $GR) = $api->call(POST => "/device-groups", body => {
    name => 'g', clientId => $C->{teamId}, projectId => $cid });
is($gs, 201, 'a group');
my $members = "/device-groups/$GR->{id}/devices";
sub in_group {
    my ($s, $j) = $api->call(GET => $members);
    return $s == 200 ? [ map { $_->{name} } @{ $j->{items} } ] : "status $s";
}

cut(POST => $members, { deviceId => $E->{id} });
is_deeply(in_group(), [], 'the uncommitted membership is not there');
is(($api->call(POST => $members, body => { deviceId => $E->{id} }))[0], 201,
   'the device can join');

cut(DELETE => "/device-groups/$GR->{id}");
is_deeply(in_group(), ['e'], 'the group whose deletion never committed is '
          . 'there with its member');

my $C2 = $col->create_collection;
cut(PUT => "/devices/$E->{id}",
    $api->device_body($C2->{collectionId}, { name => 'e' }));
is_deeply(in_group(), ['e'], 'a move that never committed: still a member');
is_deeply([ map { $_->{deviceGroupId} }
            @{ ($api->call(GET => "/devices/$E->{id}/device-groups"))[1]{items} } ],
          [ $GR->{id} ], 'and the device has its group');

my @repairs = $t->read_log =~ /died during a write, reloading that entity/g;
ok(@repairs >= 8, 'the repairs are logged') or diag(scalar @repairs);

$t->check_log('uncommitted', allow => [qr/exited on signal 9/,
                                       qr/was locked by/]);
$t->finish;
done_testing;
