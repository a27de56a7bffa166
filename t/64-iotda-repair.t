#!/usr/bin/perl

# Product writes of the iotda dialect that never committed: a worker
# killed (by gdb, in its writer thread at the batch's commit) after the
# write changed the zone.  The next worker reloads the product from the
# store: one being made is not there and its product_id is free; one
# being deleted or changed is there as it was.

use strict;
use warnings;
use Test::More;
use POSIX ();
use IO::Socket::INET;
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::JSON;

plan skip_all => 'gdb is not installed' unless -x $IoT::Test::GDB;
plan skip_all => 'not under valgrind' if $ENV{IOT_TEST_VALGRIND};

# one worker: the request must land on the worker gdb holds
my $t = IoT::Test->new(workers => 1, location => $IoT::Iotda::LOCATIONS);
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
$c->create_device($A->{collectionId});
my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);

sub product {
    my ($pid) = @_;
    return { product_id => $pid, name => 'meter', device_type => 'Meter',
             protocol_type => 'CoAP', data_format => 'binary',
             app_id => $A->{collectionId},
             service_capabilities => [{ service_id => 's' }] };
}

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
        print $s "$method /v5/iot/$project$path HTTP/1.0\r\n"
                 . "X-Auth-Token: " . $t->admin_token . "\r\n"
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
               && (($api->call(GET => '/products'))[0] // 0) == 200;
    }, 30), 'the master started a new worker');
}

is(($api->call(POST => '/products', body => product('kept')))[0], 201,
   'a product');

cut(POST => '/products', product('cut'));
is_iotda_error([$api->call(GET => '/products/cut')], 404, 'IOTDA.009002',
               'a product whose creation never committed is not there');
is(($api->call(GET => '/products'))[1]{page}{count}, 1,
   '... nor counted');
is(($api->call(POST => '/products', body => product('cut')))[0], 201,
   '... and its product_id is free');

cut(DELETE => '/products/kept');
my ($s, $j) = $api->call(GET => '/products/kept');
is($s, 200, 'a product whose deletion never committed is there');
is($j->{service_capabilities}[0]{service_id}, 's', '... with its model');
is(($api->call(DELETE => '/products/kept'))[0], 204, '... and deleted now');

cut(PUT => '/products/cut', { name => 'changed',
                              service_capabilities => [{ service_id => 't' }] });
($s, $j) = $api->call(GET => '/products/cut');
is($s, 200, 'a product whose change never committed is there');
is($j->{name}, 'meter', '... with its name as it was');
is($j->{service_capabilities}[0]{service_id}, 's', '... and its model');
($s, $j) = $api->call(PUT => '/products/cut', body => { name => 'changed' });
is($j->{name}, 'changed', '... and changed now');

my @repairs = $t->read_log =~ /died during a write, reloading that entity/g;
ok(@repairs >= 3, 'the repairs are logged') or diag(scalar @repairs);
$t->check_log('cut', allow => [qr/exited on signal 9/, qr/was locked by/]);

$t->restart;
is(($api->call(GET => '/products'))[1]{page}{count}, 1,
   'after a restart: the one product left');

$t->finish;
done_testing;
