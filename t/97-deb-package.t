#!/usr/bin/perl
# `./build.sh deb`: the Debian package installs beside Debian's nginx as its
# libnginx-mod-* packages do (the module, its modules-available file and
# the link in /etc/nginx/modules-enabled numbered after the stream
# module), an nginx that loads it without configuring it works as before,
# the shipped example configuration serves the README's tour, and removing
# and purging the package take the module away again.  Only against
# Debian's own nginx (the package is for it), as root, and only when the
# package is not installed already (the test leaves the machine as it
# found it).

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Radius qw(radclient);

plan skip_all => 'installs a package: root only' unless $> == 0;
plan skip_all => 'the package is for Debian\'s nginx (/usr/sbin/nginx)'
    unless ($ENV{IOT_TEST_NGINX} // '/usr/sbin/nginx') eq '/usr/sbin/nginx';
plan skip_all => 'no dpkg' unless -x '/usr/bin/dpkg-deb';
plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
my $was = `dpkg-query -W -f='\${Status}' libnginx-mod-iot 2>/dev/null`;
plan skip_all => 'libnginx-mod-iot is installed already: left alone'
    if $was =~ /installed|config-files|unpacked/;

my $LINK = '/etc/nginx/modules-enabled/60-mod-iot.conf';
my $SO = '/usr/lib/nginx/modules/ngx_iot_module.so';
my $DOC = '/usr/share/doc/libnginx-mod-iot';
my $had_store_dir = -d '/var/lib/nginx-iot';
my $installed;

END {
    if ($installed) {
        system('dpkg --purge libnginx-mod-iot >/dev/null 2>&1');
        rmdir '/var/lib/nginx-iot' unless $had_store_dir;
    }
}

my $out = `./build.sh deb 2>&1`;
is($? >> 8, 0, './build.sh deb') or diag($out);
my ($deb) = glob 'build/libnginx-mod-iot_*.deb';
ok($deb && -f $deb, "the package: $deb") or BAIL_OUT('no package');

my $info = `dpkg-deb -f $deb Package Depends`;
like($info, qr/nginx-abi-\d/, 'it depends on the ABI of Debian\'s nginx');
like($info, qr/libnginx-mod-stream/, 'and on the stream module');

$out = `dpkg -i $deb 2>&1`;
$installed = 1;
is($? >> 8, 0, 'dpkg -i') or diag($out);
ok(-f $SO, 'the module is in nginx\'s module folder');
is(readlink($LINK), '/usr/share/nginx/modules-available/mod-iot.conf',
   'and enabled after the stream module (60-mod-iot.conf)');
ok(-f "$DOC/examples/iot.conf" && -f "$DOC/examples/iot-site.conf"
   && -f "$DOC/operations.md", 'examples and docs');

# the modules-enabled files name their modules relative to nginx's prefix
sub link_modules {
    my ($t) = @_;
    symlink '/usr/lib/nginx/modules', $t->dir . '/modules'
        or die "symlink: $!";
}

# 1. loaded and not configured: nginx serves as before
{
    my $t = IoT::Test->new(module => 0, workers => 1,
        load_conf => "include /etc/nginx/modules-enabled/*.conf;\n",
        location => "location / { return 200 'plain\\n'; }\n");
    link_modules($t);
    $t->start;
    my ($s, undef, $body) = $t->http(GET => '/');
    is("$s $body", "200 plain\n",
       'enabled but not configured: nginx answers as before');
    $t->check_log('not configured');
    $t->finish;
}

# 2. the shipped examples, moved to free ports and a private folder
sub slurp { local (@ARGV, $/) = @_; <> }

my $tmp = tempdir('iot-deb-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my ($radius, $acct) = (IoT::Test::free_port('udp'), undef);
for (1 .. 50) {
    my $p = IoT::Test::free_port('udp');
    my $n = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $p + 1, Proto => 'udp');
    if ($n) { close $n; ($radius, $acct) = ($p, $p + 1); last }
}
my $uplink = IoT::Test::free_port('udp');

my $main = slurp("$DOC/examples/iot.conf");
$main =~ s{/var/lib/nginx-iot/iot\.db}{$tmp/iot.db};
$main =~ s{/etc/nginx/iot-admin\.token}{$tmp/admin.token};
$main =~ s{from=192\.0\.2\.10/32 secret=CHANGE-ME}
          {from=127.0.0.0/8 secret=deb-secret};
$main =~ s{listen 1812 udp}{listen 127.0.0.1:$radius udp};
$main =~ s{listen 1813 udp}{listen 127.0.0.1:$acct udp};
$main =~ s{listen 31415 udp}{listen 127.0.0.1:$uplink udp};
open my $fh, '>', "$tmp/iot.conf" or die;
print $fh $main;
close $fh;

# the site's server block is the harness's server: its inside, without
# its listen line
my $site = slurp("$DOC/examples/iot-site.conf");
my ($inside) = $site =~ /^server \{\n(.*)\}\s*\z/ms;
$inside =~ s/^\s*listen \d+;\n//m;
ok($inside =~ /iot_api collections/, 'the site example mounts the API');

my $t = IoT::Test->new(module => 0, workers => 2,
    load_conf => "include /etc/nginx/modules-enabled/*.conf;\n",
    main_conf => "include $tmp/iot.conf;\n",
    location => $inside);
link_modules($t);
$t->start;
$t->{admin_token} = do {
    my $tok = slurp("$tmp/admin.token");
    $tok =~ s/\s+//g;
    $tok;
};
is(sprintf('%04o', (stat "$tmp/admin.token")[2] & 07777), '0600',
   'the admin token file is 0600');

my $api = IoT::Collections->new($t);
my $C = $api->create_collection({ tags => { name => 'greenhouse' } });
my $imsi = $t->next_imsi;
my $imei = $t->next_imei;
my $D = $api->create_device($C->{collectionId},
                            { imsi => $imsi, imei => $imei });
my ($st, $j) = $api->call(GET =>
    "/collections/$C->{collectionId}/devices/$D->{deviceId}");
is($st, 200, 'tour: the device');

my ($rst, $rout) = radclient($acct, 'acct', 'deb-secret',
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.2,\n"
    . "3GPP-IMSI = \"$imsi\", Acct-Session-Id = \"deb1\"", dir => $tmp);
like($rout, qr/Received Accounting-Response/,
     'tour: the packet gateway attaches the device');

my $dev = IO::Socket::INET->new(LocalAddr => '127.0.0.2', Proto => 'udp',
                                PeerAddr => '127.0.0.1',
                                PeerPort => $uplink) or die "udp: $!";
$dev->send('21.5C');
my $data;
IoT::Test::wait_until(sub {
    (undef, $data) = $api->call(GET =>
        "/collections/$C->{collectionId}/data?limit=10");
    return $data && @{ $data->{messages} || [] };
}, 5);
is($data && $data->{messages}[0]{payload}, 'MjEuNUM=',
   'tour: the datagram is in the history');

($st, $j) = $api->call(POST =>
    "/collections/$C->{collectionId}/devices/$D->{deviceId}/to",
    body => { port => 4000, payload => 'b24=' });
is($st, 204, 'tour: a datagram back to the device');

($st) = $t->http(GET => "/devices/imei:$imei",
    headers => { Authorization => "Bearer $t->{admin_token}" });
is($st, 200, 'tour: the things dialect finds it by its IMEI');

$t->check_log('the tour');
$t->finish;

# 3. removed: the link is set aside (as Debian does), the module gone;
# purged: the link too; the store folder is the operator's and stays
$out = `dpkg -r libnginx-mod-iot 2>&1`;
is($? >> 8, 0, 'dpkg -r') or diag($out);
ok(!-e $SO, 'removed: the module is gone');
ok(!-l $LINK && -l "$LINK.removed", 'removed: the link is set aside');
$out = `dpkg --purge libnginx-mod-iot 2>&1`;
is($? >> 8, 0, 'dpkg --purge') or diag($out);
ok(!-l $LINK && !-l "$LINK.removed", 'purged: no link left');
ok(-d '/var/lib/nginx-iot', 'purged: the store folder stays');
$installed = 0;
rmdir '/var/lib/nginx-iot' unless $had_store_dir;

done_testing;
