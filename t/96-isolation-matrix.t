#!/usr/bin/perl
# The isolation matrix: every credential form of every dialect, against
# collections it does not reach (another collection of its team, a
# collection of another team), tried with every action of its dialect:
# read, change, stream, history and downlink.  Each must be refused in
# the dialect's own status and error format (or, for a list, answered
# without anything of the other collection), and nothing may change:
# what the administrator sees of the other collections (registry,
# history, downlinks, iotda parts, shadows, messages, groups) is the same
# before and after.  Then each credential is revoked (a token deleted or
# narrowed, an access key deleted, a user removed from a team): the
# streams it opened close and its requests are refused.
#
# The matrix is generated: @ACTIONS (per dialect) x the credential forms
# of %FORMS x the targets of each credential; a new action or dialect is
# a new line there.  A compact summary is printed at the end.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::Iotda;
use IoT::JSON;
use IoT::WebSocket;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(decode_base64);

use constant { CLOSE => 8, PING => 9, PONG => 10 };

my $up = IoT::Test::free_port('udp');
my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS,
                       stream_conf => <<"EOF");
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $col = IoT::Collections->new($t);
my $things = IoT::Things->new($t);
$t->start;

my $SPEC = '9c359e94-ace1-448c-8ac9-443a7d3d963f';

sub must {
    my ($what, $st, $j, undef, $raw, @ok) = @_;
    die "$what: $st " . ($raw // '') . "\n" unless grep { $st == $_ } @ok;
    return $j;
}

# ------------------------------------------------------------ fixture

sub user {
    my ($name) = @_;
    return must('POST /users', $col->call(POST => '/users',
                                          body => { name => $name }), 201);
}

my $U1 = user('owner');
my $U2 = user('other');
my $U3 = user('member');

# team T1 (not a private team, so that it takes members); T2 is U2's own
my (undef, $T1) = $col->call(POST => '/teams', body => {},
                             token => $U1->{token});
my (undef, $inv) = $col->call(POST => "/teams/$T1->{teamId}/invites",
                              token => $U1->{token});
must('accept', $col->call(POST => '/teams/accept',
                          body => { code => $inv->{code} },
                          token => $U3->{token}), 200);
my $T2 = $U2->{privateTeamId};

my $iotda_admin = IoT::Iotda->new($t);
my %secret_of;    # DVN UUID -> shared secret

# a collection with all there is to attack: a device with an IMEI and a
# generic adapter, a product and an iotda device with a shadow, a group
# with the device, a message in the history, downlinks
sub collection {
    my ($name, $team, $token) = @_;
    my $C = $col->create_collection({ teamId => $team,
                                      tags => { name => $name } },
                                    token => $token);
    my $cid = $C->{collectionId};
    my $d = $col->create_device($cid, { tags => { name => "d-$name" } },
                                token => $token);
    my (undef, $l) = $things->call(GET => "/devices?q=d-$name",
                                   token => $token);
    my ($td) = grep { $_->{name} eq "d-$name" } @{ $l->{items} };
    my $dvn = sprintf '%08x-1111-4111-8111-%012x', int(rand(2**32)),
                      int(rand(2**40));
    my $sec = "S3cret$name" x 6;
    $secret_of{$dvn} = $sec;
    must("adapter $name", $things->call(POST =>
        "/devices/$td->{id}/network-adapters",
        body => { type => 'generic', dvnUuid => $dvn, sharedSecret => $sec },
        token => $token), 201);
    my $G = must("group $name", $things->call(POST => '/device-groups',
        body => { name => "g-$name", clientId => $td->{clientId},
                  projectId => $cid }, token => $token), 201);
    must("member $name", $things->call(POST => "/device-groups/$G->{id}/devices",
        body => { deviceId => $td->{id} }, token => $token), 201);
    my $pid = "p_$cid";
    must("product $name", $iotda_admin->call(POST => '/products',
        project => $team, body => {
            product_id => $pid, name => "P $name", device_type => 'Meter',
            protocol_type => 'UDP', data_format => 'json', app_id => $cid,
            service_capabilities => [{ service_id => 'Meter',
                properties => [{ property_name => 'level',
                                 data_type => 'int', min => '0',
                                 max => '100', method => 'RW',
                                 default_value => 1 }] }] }), 201);
    my $m = must("iotda device $name", $iotda_admin->call(POST => '/devices',
        project => $team, body => { node_id => "n_$cid", product_id => $pid,
                                    app_id => $cid,
                                    device_name => "m-$name" }), 201);
    ingest($dvn, "hello from $name");
    must("message $name", $iotda_admin->call(POST =>
        "/devices/$m->{device_id}/messages", project => $team,
        body => { message => 'kept', message_id => "msg_$cid" }), 201);
    must("downlink $name", $col->call(POST => "/collections/$cid/to",
        body => { port => 4000, payload => 'aGk=' }, token => $token), 200);
    return { name => $name, cid => $cid, team => $team, did => $d->{deviceId},
             imei => $d->{imei}, uuid => $td->{id}, client => $td->{clientId},
             dvn => $dvn, gid => $G->{id}, pid => $pid,
             iid => $m->{device_id}, mid => "msg_$cid" };
}

# POST a SenML pack (signed with $secret, default: the device's own)
sub ingest {
    my ($dvn, $text, %o) = @_;
    my $body = $o{body} // json_encode([{ bn => "urn:dev:DVNUUID:$dvn:",
                                          n => 'note', vs => $text }]);
    my $sec = exists $o{secret} ? $o{secret} : $secret_of{$dvn};
    my %h = ('Content-Type' => 'application/json', %{ $o{headers} || {} });
    $h{'Things-Message-Token'} = sha256_hex($body . $sec) if defined $sec;
    my ($st, $hd, $raw) = $t->http(POST => '/ingestion/ip/senml/v1',
                                   headers => \%h, body => $body);
    die "ingest $text: $st $raw\n" if !exists $o{secret} && $st != 204;
    return ($st, json_decode($raw), $hd, $raw);
}

my %OWNER = ($T1->{teamId} => $U1, $T2 => $U2);   # each team's Admin
my $CA = collection('A', $T1->{teamId}, $U1->{token});   # the attacker's
my $CV = collection('V', $T1->{teamId}, $U1->{token});   # its team's other
my $CX = collection('X', $T2, $U2->{token});             # another team's

sub token {
    my ($user, %b) = @_;
    my $tok = $col->create_token({ %b }, token => $user->{token});
    return $tok->{token};
}

sub iam_key {
    my ($team) = @_;
    my ($st, $h, $raw) = $t->http(POST => '/v3.0/OS-CREDENTIAL/credentials',
        headers => { 'Content-Type' => 'application/json',
                     'X-Auth-Token' => $t->admin_token },
        body => json_encode({ credential => { user_id => $team } }));
    my $j = json_decode($raw);
    die "IAM key: $st $raw\n" unless $st == 201;
    return ($j->{credential}{access}, $j->{credential}{secret});
}

# the credentials: what they are, their own collection and team, and the
# collections they must not reach
my %CRED = (
    rA => { token => token($U1, resource => "/collections/$CA->{cid}",
                           write => JFALSE),
            own => $CA, team => $T1->{teamId}, targets => [$CV, $CX],
            write => 0, scoped => 1,
            what => "read-only token of collection A" },
    wA => { token => token($U1, resource => "/collections/$CA->{cid}",
                           write => JTRUE),
            own => $CA, team => $T1->{teamId}, targets => [$CV, $CX],
            write => 1, scoped => 1,
            what => "write token of collection A" },
    u2 => { token => $U2->{token}, own => $CX, team => $T2,
            targets => [$CA, $CV], write => 1,
            what => "another team's user's token (/, write)" },
);
my ($ak2, $sk2) = iam_key($T2);
$CRED{k2} = { ak => $ak2, sk => $sk2, own => $CX, team => $T2,
              targets => [$CA, $CV], write => 1,
              what => "IAM-style access key of another team" };

# the credential forms of each dialect: [name, credential, client args]
my %FORMS;
for my $c (qw(rA wA u2)) {
    my $tok = $CRED{$c}{token};
    push @{ $FORMS{collections} }, ["X-API-Token($c)", $c, { token => $tok }];
    push @{ $FORMS{things} }, ["Bearer($c)", $c, { token => $tok }];
    push @{ $FORMS{iotda} }, ["X-Auth-Token($c)", $c, { token => $tok }];
    my ($ak, $sk) = access_key($tok);
    for my $alg (qw(SDK V11)) {
        push @{ $FORMS{iotda} }, ["$alg($c)", $c,
            { ak => $ak, sk => $sk, algorithm => "$alg-HMAC-SHA256" }];
    }
}
for my $alg (qw(SDK V11)) {
    push @{ $FORMS{iotda} }, ["$alg(k2)", 'k2',
        { ak => $ak2, sk => $sk2, algorithm => "$alg-HMAC-SHA256" }];
}

# ------------------------------------------------------------ actions
#
# Each action: dialect, kind, name, req (a sub of the credential, the
# target and, in the iotda dialect, the path's project, returning the
# request), expect (the statuses a refusal may have) or list (a 200 that
# must show nothing of the target; a refusal in expect is fine too).

my @ACTIONS;
sub action { push @ACTIONS, { @_ } }

# the collections dialect
for my $a (
    [read => 'GET collection',          sub { "/collections/$_[1]{cid}" }],
    [read => 'GET devices',             sub { "/collections/$_[1]{cid}/devices" }],
    [read => 'GET device',              sub { "/collections/$_[1]{cid}/devices/$_[1]{did}" }],
    [read => 'GET collection tags',     sub { "/collections/$_[1]{cid}/tags" }],
    [read => 'GET device tags',         sub { "/collections/$_[1]{cid}/devices/$_[1]{did}/tags" }],
    [read => 'GET downlinks',           sub { "/collections/$_[1]{cid}/downlinks?limit=0" }],
    [read => 'GET device downlinks',    sub { "/collections/$_[1]{cid}/devices/$_[1]{did}/downlinks" }],
    [history => 'GET data',             sub { "/collections/$_[1]{cid}/data?limit=0" }],
    [history => 'GET device data',      sub { "/collections/$_[1]{cid}/devices/$_[1]{did}/data" }],
) {
    my ($kind, $name, $path) = @$a;
    action(dialect => 'collections', kind => $kind, name => $name,
           req => sub { { method => 'GET', path => $path->(@_) } },
           expect => [403]);
}
for my $a (
    [read => 'GET its device in own collection', 'GET', sub { "/collections/$_[0]{own}{cid}/devices/$_[1]{did}" }],
    [history => 'GET its device data in own collection', 'GET', sub { "/collections/$_[0]{own}{cid}/devices/$_[1]{did}/data" }],
    [change => 'PATCH its device in own collection', 'PATCH', sub { "/collections/$_[0]{own}{cid}/devices/$_[1]{did}" }, { tags => { x => 'y' } }],
    [change => 'DELETE its device in own collection', 'DELETE', sub { "/collections/$_[0]{own}{cid}/devices/$_[1]{did}" }],
    [downlink => 'POST its device /to in own collection', 'POST', sub { "/collections/$_[0]{own}{cid}/devices/$_[1]{did}/to" }, { port => 4000, payload => 'aGk=' }],
) {
    my ($kind, $name, $method, $path, $body) = @$a;
    # a device is reached only through its own collection: 404 (a
    # read-only credential's write may be refused first, 403)
    action(dialect => 'collections', kind => $kind, name => $name,
           req => sub { { method => $method, path => $path->(@_),
                          ($body ? (body => $body) : ()) } },
           expect => [404]);
}
for my $a (
    [change => 'POST device', 'POST', sub { "/collections/$_[1]{cid}/devices" },
     sub { { imsi => $t->next_imsi, imei => $t->next_imei } }],
    [change => 'PATCH device', 'PATCH', sub { "/collections/$_[1]{cid}/devices/$_[1]{did}" },
     sub { { tags => { name => 'stolen' } } }],
    [change => 'DELETE device', 'DELETE', sub { "/collections/$_[1]{cid}/devices/$_[1]{did}" }],
    [change => 'PATCH collection', 'PATCH', sub { "/collections/$_[1]{cid}" },
     sub { { tags => { name => 'stolen' }, teamId => $_[0]{team} } }],
    [change => 'PATCH collection tags', 'PATCH', sub { "/collections/$_[1]{cid}/tags" },
     sub { { name => 'stolen' } }],
    [change => 'PATCH collection tag', 'PATCH', sub { "/collections/$_[1]{cid}/tags/name" },
     sub { { value => 'stolen' } }],
    [change => 'DELETE collection tag', 'DELETE', sub { "/collections/$_[1]{cid}/tags/name" }],
    [change => 'DELETE device tag', 'DELETE', sub { "/collections/$_[1]{cid}/devices/$_[1]{did}/tags/name" }],
    [change => 'DELETE collection', 'DELETE', sub { "/collections/$_[1]{cid}" }],
    [change => 'move own device into it', 'PATCH', sub { "/collections/$_[0]{own}{cid}/devices/$_[0]{own}{did}" },
     sub { { collectionId => $_[1]{cid} } }],
    [downlink => 'POST device /to', 'POST', sub { "/collections/$_[1]{cid}/devices/$_[1]{did}/to" },
     sub { { port => 4000, payload => 'aGk=' } }],
    [downlink => 'POST collection /to', 'POST', sub { "/collections/$_[1]{cid}/to" },
     sub { { port => 4000, payload => 'aGk=' } }],
) {
    my ($kind, $name, $method, $path, $body) = @$a;
    action(dialect => 'collections', kind => $kind, name => $name,
           req => sub { { method => $method, path => $path->(@_),
                          ($body ? (body => $body->(@_)) : ()) } },
           expect => [403]);
}
action(dialect => 'collections', kind => 'read', name => 'GET /collections',
       req => sub { { method => 'GET', path => '/collections' } }, list => 1);
action(dialect => 'collections', kind => 'downlink', name => 'GET own downlinks',
       req => sub { { method => 'GET', path => "/collections/$_[0]{own}{cid}/downlinks?limit=0" } },
       list => 1);
action(dialect => 'collections', kind => 'history', name => 'GET own data',
       req => sub { { method => 'GET', path => "/collections/$_[0]{own}{cid}/data?limit=0" } },
       list => 1);
# a token that would reach the target, made by the credential: refused,
# or made and reaching nothing of it
action(dialect => 'collections', kind => 'change', name => 'POST token for it',
       req => sub { { method => 'POST', path => '/tokens',
                      body => { resource => "/collections/$_[1]{cid}",
                                write => JTRUE } } },
       expect => [403], made_token => 1);
# another team itself (the target's, when it is not the credential's): a
# token limited to its collection is refused outside it (403), a user not
# in the team finds no such team (404), a collection is made or moved
# only into a team of the user (400)
sub other_team { $_[0]{team} ne $_[1]{team} }
for my $a (
    [read => 'GET its team', 'GET', sub { "/teams/$_[1]{team}" }],
    [read => 'GET its team members', 'GET', sub { "/teams/$_[1]{team}/members" }],
    [read => 'GET its team invites', 'GET', sub { "/teams/$_[1]{team}/invites" }],
    [change => 'PATCH its team', 'PATCH', sub { "/teams/$_[1]{team}" },
     sub { { tags => { name => 'stolen' } } }],
    [change => 'POST invite to its team', 'POST', sub { "/teams/$_[1]{team}/invites" },
     sub { {} }],
    [change => 'PATCH its owner\'s role', 'PATCH',
     sub { "/teams/$_[1]{team}/members/$OWNER{ $_[1]{team} }{userId}" },
     sub { { role => 'Member' } }],
    [change => 'DELETE its owner from its team', 'DELETE',
     sub { "/teams/$_[1]{team}/members/$OWNER{ $_[1]{team} }{userId}" }],
    [change => 'DELETE its team', 'DELETE', sub { "/teams/$_[1]{team}" }],
) {
    my ($kind, $name, $method, $path, $body) = @$a;
    action(dialect => 'collections', kind => $kind, name => $name,
           only => \&other_team,
           req => sub { { method => $method, path => $path->(@_),
                          ($body ? (body => $body->(@_)) : ()) } },
           expect => sub { $_[0]{scoped} ? [403] : [404] });
}
action(dialect => 'collections', kind => 'change',
       name => 'POST collection in its team', only => \&other_team,
       req => sub { { method => 'POST', path => '/collections',
                      body => { teamId => $_[1]{team} } } },
       expect => sub { $_[0]{scoped} ? [403] : [400] });
action(dialect => 'collections', kind => 'change',
       name => 'move own collection into its team', only => \&other_team,
       req => sub { { method => 'PATCH', path => "/collections/$_[0]{own}{cid}",
                      body => { teamId => $_[1]{team} } } },
       expect => [400]);

# streams: the token in the header, and in the query
for my $a (
    ['WebSocket /from', sub { "/collections/$_[1]{cid}/from" }, [403]],
    ['WebSocket device /from', sub { "/collections/$_[1]{cid}/devices/$_[1]{did}/from" }, [403]],
    ['WebSocket its device /from in own collection',
     sub { "/collections/$_[0]{own}{cid}/devices/$_[1]{did}/from" }, [404]],
) {
    my ($name, $path, $expect) = @$a;
    action(dialect => 'collections', kind => 'stream', name => $name,
           req => sub { { ws => 1, path => $path->(@_) } }, expect => $expect);
    # a write token in the query is 400 before anything else
    action(dialect => 'collections', kind => 'stream',
           name => "$name ?api_token=",
           req => sub { { ws => 1, query_token => 1, path => $path->(@_) } },
           expect => $expect);
}

# the things dialect
sub things_body {
    my ($c, $tg, $project) = @_;
    return { name => 'stolen', clientId => $project->{client},
             projectId => $project->{cid}, deviceSpecificationId => $SPEC };
}
for my $a (
    [read => 'GET device', 'GET', sub { "/devices/$_[1]{uuid}" }],
    [read => 'GET device by IMEI', 'GET', sub { "/devices/imei:$_[1]{imei}" }],
    [read => 'GET device by DVN UUID', 'GET', sub { "/devices/dvnuuid:$_[1]{dvn}" }],
    [read => 'GET device by IMEI URN', 'GET', sub { "/devices/urn:dev:imei:$_[1]{imei}:" }],
    [read => 'GET device by DVN UUID URN', 'GET', sub { "/devices/URN:DEV:DVNUUID:\U$_[1]{dvn}\E" }],
    [change => 'PUT device by DVN UUID', 'PUT', sub { "/devices/dvnuuid:$_[1]{dvn}" },
     sub { things_body($_[0], $_[1], $_[0]{own}) }],
    [change => 'DELETE device by IMEI', 'DELETE', sub { "/devices/imei:$_[1]{imei}" }],
    [read => 'GET adapters', 'GET', sub { "/devices/$_[1]{uuid}/network-adapters" }],
    [read => 'GET its groups', 'GET', sub { "/devices/$_[1]{uuid}/device-groups" }],
    [read => 'GET group', 'GET', sub { "/device-groups/$_[1]{gid}" }],
    [read => 'GET group devices', 'GET', sub { "/device-groups/$_[1]{gid}/devices" }],
    [change => 'PUT device into own project', 'PUT', sub { "/devices/$_[1]{uuid}" },
     sub { things_body($_[0], $_[1], $_[0]{own}) }],
    [change => 'PUT device in its project', 'PUT', sub { "/devices/$_[1]{uuid}" },
     sub { things_body($_[0], $_[1], $_[1]) }],
    [change => 'DELETE device', 'DELETE', sub { "/devices/$_[1]{uuid}" }],
    [change => 'POST adapter', 'POST', sub { "/devices/$_[1]{uuid}/network-adapters" },
     sub { { type => 'generic', dvnUuid => '0badc0de-1111-4111-8111-000000000001',
             sharedSecret => 'x' x 32 } }],
    [change => 'PUT group', 'PUT', sub { "/device-groups/$_[1]{gid}" },
     sub { { name => 'stolen', clientId => $_[1]{client}, projectId => $_[1]{cid} } }],
    [change => 'DELETE group', 'DELETE', sub { "/device-groups/$_[1]{gid}" }],
    [change => 'DELETE membership', 'DELETE', sub { "/device-groups/$_[1]{gid}/devices/$_[1]{uuid}" }],
    [change => 'POST own device into its group', 'POST', sub { "/device-groups/$_[1]{gid}/devices" },
     sub { { deviceId => $_[0]{own}{uuid} } }],
    [change => 'POST it into own group', 'POST', sub { "/device-groups/$_[0]{own}{gid}/devices" },
     sub { { deviceId => $_[1]{uuid} } }],
) {
    my ($kind, $name, $method, $path, $body) = @$a;
    # not reached: 404, as if it did not exist
    action(dialect => 'things', kind => $kind, name => $name,
           req => sub { { method => $method, path => $path->(@_),
                          ($body ? (body => $body->(@_)) : ()) } },
           expect => [404]);
}
# a body naming a project not reached: 400 (docs/things.md)
action(dialect => 'things', kind => 'change', name => 'POST device in its project',
       req => sub { { method => 'POST', path => '/devices',
                      body => things_body($_[0], $_[1], $_[1]) } },
       expect => [400]);
action(dialect => 'things', kind => 'change', name => 'PUT own device into its project',
       req => sub { { method => 'PUT', path => "/devices/$_[0]{own}{uuid}",
                      body => things_body($_[0], $_[1], $_[1]) } },
       expect => [400]);
action(dialect => 'things', kind => 'change', name => 'POST group in its project',
       req => sub { { method => 'POST', path => '/device-groups',
                      body => { name => 'g', clientId => $_[1]{client},
                                projectId => $_[1]{cid} } } },
       expect => [400]);
for my $a (
    ['GET /devices', sub { '/devices' }],
    ['GET /devices?projectId', sub { "/devices?projectId=$_[1]{cid}" }],
    ['GET /devices?clientId', sub { "/devices?clientId=$_[1]{client}" }],
    ['GET /devices?q', sub { "/devices?q=d-$_[1]{name}" }],
    ['GET /device-groups', sub { '/device-groups' }],
    ['GET /device-groups?projectId', sub { "/device-groups?projectId=$_[1]{cid}" }],
) {
    my ($name, $path) = @$a;
    action(dialect => 'things', kind => 'read', name => $name,
           req => sub { { method => 'GET', path => $path->(@_) } },
           list => 1);
}
# (the stream is the collections dialect's: its error format)
action(dialect => 'things', kind => 'stream', name => 'WebSocket /from with Bearer',
       req => sub { { ws => 1, path => "/collections/$_[1]{cid}/from" } },
       expect => [401], format => 'collections');

# the iotda dialect (each in the credential's project and the target's)
for my $a (
    [read => 'GET device', 'GET', sub { "/devices/$_[1]{iid}" }],
    [read => 'GET device by collections id', 'GET', sub { "/devices/$_[1]{did}" }],
    [read => 'GET shadow', 'GET', sub { "/devices/$_[1]{iid}/shadow" }],
    [read => 'GET product', 'GET', sub { "/products/$_[1]{pid}" }],
    [downlink => 'GET its message under own device', 'GET',
     sub { "/devices/$_[0]{own}{iid}/messages/$_[1]{mid}" }],
    [downlink => 'GET messages', 'GET', sub { "/devices/$_[1]{iid}/messages" }],
    [change => 'PUT device', 'PUT', sub { "/devices/$_[1]{iid}" },
     sub { { device_name => 'stolen' } }],
    [change => 'DELETE device', 'DELETE', sub { "/devices/$_[1]{did}" }],
    [change => 'DELETE iotda device', 'DELETE', sub { "/devices/$_[1]{iid}" }],
    [change => 'PUT shadow', 'PUT', sub { "/devices/$_[1]{iid}/shadow" },
     sub { { shadow => [{ service_id => 'Meter', desired => { level => 99 } }] } }],
    [change => 'resetSecret', 'POST', sub { "/devices/$_[1]{iid}/action?action_id=resetSecret" },
     sub { { secret => 'Stolen12345' } }],
    [change => 'freeze', 'POST', sub { "/devices/$_[1]{iid}/freeze" }],
    [change => 'bind tags', 'POST', sub { '/tags/bind-resource' },
     sub { { resource_type => 'device', resource_id => $_[1]{iid},
             tags => [{ tag_key => 'k', tag_value => 'stolen' }] } }],
    [change => 'POST device in its space', 'POST', sub { '/devices' },
     sub { { node_id => 'stolen' . int(rand(1e9)), product_id => $_[1]{pid},
             app_id => $_[1]{cid} } }],
    [change => 'POST device under its gateway', 'POST', sub { '/devices' },
     sub { { node_id => 'child' . int(rand(1e9)), product_id => $_[0]{own}{pid},
             app_id => $_[0]{own}{cid}, gateway_id => $_[1]{iid} } }],
    [change => 'PUT product', 'PUT', sub { "/products/$_[1]{pid}" },
     sub { { name => 'stolen' } }],
    [change => 'DELETE product', 'DELETE', sub { "/products/$_[1]{pid}" }],
    [downlink => 'POST message', 'POST', sub { "/devices/$_[1]{iid}/messages" },
     sub { { message => 'stolen' } }],
    [downlink => 'POST message by collections id', 'POST', sub { "/devices/$_[1]{did}/messages" },
     sub { { message => 'stolen' } }],
) {
    my ($kind, $name, $method, $path, $body) = @$a;
    # in its own project a device or product it does not reach is 404; a
    # device made with a product it does not reach is 400 IOTDA.009002
    action(dialect => 'iotda', kind => $kind, name => $name,
           req => sub { { method => $method, path => $path->(@_),
                          ($body ? (body => $body->(@_)) : ()) } },
           expect => $name =~ /^POST device/ ? [400] : [404]);
}
for my $a (
    ['GET devices', sub { '/devices?limit=50' }],
    ['GET devices?app_id', sub { "/devices?app_id=$_[1]{cid}" }],
    ['GET devices?product_id', sub { "/devices?product_id=$_[1]{pid}" }],
    ['GET devices?gateway_id', sub { "/devices?gateway_id=$_[1]{iid}" }],
    ['GET devices?node_id', sub { "/devices?node_id=n_$_[1]{cid}" }],
    ['GET products', sub { '/products' }],
) {
    my ($name, $path) = @$a;
    action(dialect => 'iotda', kind => 'read', name => $name,
           req => sub { { method => 'GET', path => $path->(@_) } },
           list => 1, expect => [403]);
}
# the team's access keys: the administrator's alone (403 IAM.0003)
for my $a (
    [read => 'GET its team\'s access keys', 'GET',
     sub { "/v3.0/OS-CREDENTIAL/credentials?user_id=$_[1]{team}" }],
    [change => 'POST an access key for its team', 'POST',
     sub { '/v3.0/OS-CREDENTIAL/credentials' },
     sub { { credential => { user_id => $_[1]{team} } } }],
) {
    my ($kind, $name, $method, $path, $body) = @$a;
    action(dialect => 'iotda', kind => $kind, name => $name, iam => 1,
           only => sub { !$_[2]{ak} },
           req => sub { { method => $method, path => $path->(@_), iam => 1,
                          ($body ? (body => $body->(@_)) : ()) } },
           expect => [403], format => 'iam');
}

# ------------------------------------------------------------ running

# what the administrator sees of the fixture's collections
sub snapshot {
    my %s;
    my $get = sub {
        my ($client, $path, %o) = @_;
        my ($st, undef, undef, $raw) = $client->call(GET => $path, %o);
        $s{"$path" . ($o{project} ? " ($o{project})" : '')} = "$st $raw";
    };
    $get->($col, '/collections');
    # the teams, as their Admins see them; the access keys
    for my $team (sort keys %OWNER) {
        $get->($col, $_, token => $OWNER{$team}{token})
            for ("/teams/$team", "/teams/$team/invites");
    }
    my ($st, undef, $raw) = $t->http(GET => '/v3.0/OS-CREDENTIAL/credentials',
        headers => { 'X-Auth-Token' => $t->admin_token });
    $s{'access keys'} = "$st $raw";
    for my $c ($CA, $CV, $CX) {
        my $p = "/collections/$c->{cid}";
        $get->($col, $_) for ($p, "$p/devices", "$p/devices/$c->{did}",
                              "$p/data?limit=0", "$p/downlinks?limit=0",
                              "$p/tags");
        $get->($things, $_) for ("/devices/$c->{uuid}",
                                 "/devices/$c->{uuid}/network-adapters",
                                 "/device-groups/$c->{gid}",
                                 "/device-groups/$c->{gid}/devices");
        $get->($iotda_admin, $_, project => $c->{team})
            for ("/devices/$c->{iid}", "/devices/$c->{iid}/shadow",
                 "/devices/$c->{iid}/messages", "/products/$c->{pid}",
                 "/devices?app_id=$c->{cid}");
    }
    return \%s;
}

# the refusal's format in each dialect
my %FORMAT = (
    collections => sub {
        my ($st, $j, $h) = @_;
        return ($h->{'content-type'} // '') =~ m{^application/json\b}
            && $j && ($j->{status} // '') eq $st && length($j->{message} // '');
    },
    things => sub {
        my ($st, $j, $h) = @_;
        return ($h->{'content-type'} // '') =~ m{^application/problem\+json\b}
            && $j && ($j->{status} // '') eq $st && length($j->{detail} // '')
            && length($j->{title} // '');
    },
    iam => sub {
        my ($st, $j, $h) = @_;
        return ($h->{'content-type'} // '') =~ m{^application/json\b}
            && $j && ($j->{error_code} // '') =~ /^IAM\.\d{4}\z/
            && length($j->{error_msg} // '');
    },
    iotda => sub {
        my ($st, $j, $h) = @_;
        return ($h->{'content-type'} // '') =~ m{^application/json\b}
            && $j && ($j->{error_code} // '') =~ /^IOTDA\.\d{6}\z/
            && length($j->{error_msg} // '')
            && ($h->{'x-request-id'} // '') =~ /^[0-9a-f]{32}\z/;
    },
);

# the answer to a request of a form: ($status, $json, $headers, $raw)
sub run_request {
    my ($dialect, $args, $req, $project) = @_;
    if ($req->{ws}) {
        my ($path, %o) = ($req->{path});
        if ($dialect eq 'things') {
            $o{headers} = { Authorization => "Bearer $args->{token}" };
        } elsif ($req->{query_token}) {
            $path .= "?api_token=$args->{token}";
        } else {
            $o{token} = $args->{token};
        }
        my $ws = IoT::WebSocket->connect(port => $t->port, path => $path, %o);
        my $st = $ws ? $ws->{status} : 0;
        my $body = $ws && $st != 101 ? $ws->{body} : '';
        $ws->close if $ws;
        return ($st, json_decode($body), $ws ? $ws->{headers} : {}, $body);
    }
    my %o = (exists $req->{body} ? (body => $req->{body}) : ());
    if ($dialect eq 'collections') {
        return $col->call($req->{method}, $req->{path}, %o,
                          token => $args->{token});
    }
    if ($dialect eq 'things') {
        return $things->call($req->{method}, $req->{path}, %o,
                             token => $args->{token});
    }
    if ($req->{iam}) {
        my ($st, $h, $raw) = $t->http($req->{method}, $req->{path},
            headers => { 'X-Auth-Token' => $args->{token},
                         'Content-Type' => 'application/json' },
            (exists $req->{body} ? (body => json_encode($req->{body})) : ()));
        return ($st, json_decode($raw), $h, $raw);
    }
    my ($path, $query) = split /\?/, $req->{path}, 2;
    my $client = IoT::Iotda->new($t, %$args);
    return $client->call($req->{method}, $path, %o, project => $project,
                         (defined $query ? (query => $query) : ()),
                         ($args->{ak} ? () : (token => $args->{token})));
}

# the identifiers of a collection an answer must not show
sub ids_of {
    my ($tg) = @_;
    return grep { defined } @$tg{qw(cid did imei uuid gid pid iid dvn)};
}

my (%summary, @leaks);

sub judge {
    my ($dialect, $a, $args, $cred, $tg, $res, $req, $project) = @_;
    my ($st, $j, $h, $raw) = @$res;
    if ($a->{list} && $st == 200) {
        my @shown = grep { index($raw, $_) >= 0 } ids_of($tg);
        return (!@shown, @shown ? "200 shows @shown" : '200 without it');
    }
    if ($a->{made_token} && $st == 201 && $j && $j->{token}) {
        # made: it must reach nothing of the target
        my ($s2) = $col->call(GET => "/collections/$tg->{cid}",
                              token => $j->{token});
        $col->call(DELETE => "/tokens/$j->{token}", token => $args->{token});
        return ($s2 == 403, "made a token that gets $s2 on it");
    }
    # what is refused before the action's own answer: another team's
    # project (iotda), a read-only credential writing, a token with
    # write access in ?api_token= (docs/iotda.md, things.md, websocket.md)
    my $expect = ref $a->{expect} eq 'CODE' ? $a->{expect}->($cred)
                                            : $a->{expect} || [];
    if ($project && $project ne $cred->{team} && !$req->{iam}) {
        $expect = [403];
    } elsif (!$cred->{write} && ($req->{method} // 'GET') ne 'GET') {
        $expect = [403];
    } elsif ($req->{query_token} && $cred->{write}) {
        $expect = [400];
    }
    my $ok = (grep { $st == $_ } @$expect)
        && $FORMAT{ $a->{format} // $dialect }->($st, $j, $h || {});
    my $code = $j && ref $j eq 'HASH' ? ($j->{error_code} // '') : '';
    return ($ok ? 1 : 0, "$st $code" . ($ok ? '' : " $raw"));
}

sub run_matrix {
    my ($dialect, $form) = @_;
    my ($fname, $cname, $args) = @$form;
    my $cred = $CRED{$cname};
    my $before = snapshot();
    for my $a (grep { $_->{dialect} eq $dialect } @ACTIONS) {
        for my $tg (@{ $cred->{targets} }) {
            next if $a->{only} && !$a->{only}->($cred, $tg, $args);
            my @projects = $a->{iam} ? ('') : $dialect eq 'iotda'
                ? do { my %u; grep { !$u{$_}++ } $cred->{team}, $tg->{team} }
                : ('');
            for my $p (@projects) {
                my $req = $a->{req}->($cred, $tg, $p);
                my @res = run_request($dialect, $args, $req, $p);
                my ($ok, $why) = judge($dialect, $a, $args, $cred, $tg, \@res,
                                       $req, $p);
                my $where = "collection $tg->{name}"
                    . ($p ? ($p eq $cred->{team} ? ', own project'
                                                 : ', its project') : '');
                ok($ok, "$dialect $fname: $a->{kind} $a->{name} -> $where: $why");
                my $s = $summary{$dialect}{$a->{kind}}{$fname} ||= [0, 0];
                $s->[0] += $ok; $s->[1]++;
                push @leaks, "$dialect $fname $a->{name} -> $where: $why"
                    unless $ok;
            }
        }
    }
    my $after = snapshot();
    my @changed = grep { ($before->{$_} // '') ne ($after->{$_} // '') }
                  sort keys %$after;
    ok(!@changed, "$dialect $fname: nothing of the other collections changed")
        or diag(join "\n", map { "changed: $_\n  before: $before->{$_}\n"
                                  . "  after: $after->{$_}" } @changed);
}

# the snapshot shows what is there: every answer 200, each history with
# its message (written behind the answer), each collection its downlinks
ok(wait_until(sub {
    my $s = snapshot();
    return !(grep { !/^200 / } values %$s)
        && 3 == grep { /^200 \{"messages":\[\{/ } map { $s->{$_} }
                     grep { m{/data} } keys %$s;
}), 'the administrator sees all of the three collections') or do {
    my $s = snapshot();
    diag("$_: $s->{$_}") for sort keys %$s;
};

# the paths of the matrix find what they name for whoever reaches it, so
# that its 404s say "not reached", not "no such path"
for my $c ($CA, $CV, $CX) {
    my $tok = $OWNER{ $c->{team} }{token};
    my $iot = IoT::Iotda->new($t, project => $c->{team}, token => $tok);
    my @got = (
        map({ [$_, ($things->call(GET => $_, token => $tok))[0]] }
            "/devices/$c->{uuid}", "/devices/imei:$c->{imei}",
            "/devices/dvnuuid:$c->{dvn}", "/devices/urn:dev:imei:$c->{imei}:",
            "/devices/URN:DEV:DVNUUID:\U$c->{dvn}\E",
            "/device-groups/$c->{gid}/devices"),
        map({ [$_, ($iot->call(GET => $_))[0]] }
            "/devices/$c->{iid}", "/devices/$c->{did}",
            "/devices/$c->{iid}/shadow", "/products/$c->{pid}",
            "/devices/$c->{iid}/messages/$c->{mid}"),
        map({ [$_, ($col->call(GET => $_, token => $tok))[0]] }
            "/collections/$c->{cid}/devices/$c->{did}/data"),
    );
    my @bad = grep { $_->[1] != 200 } @got;
    ok(!@bad, "collection $c->{name}: its owner reaches every path of it")
        or diag(explain \@bad);
}

for my $dialect (qw(collections things iotda)) {
    run_matrix($dialect, $_) for @{ $FORMS{$dialect} };
}

# ------------------------------------------------------------ SenML

# a pack for another's device: with the attacker device's secret, with
# an API token as the secret, and behind a record of the attacker's own
# device; nothing lands in the other's history
{
    my $before = snapshot();
    my $mine = $CA->{dvn};
    for my $tg ($CV, $CX) {
        my @tries = (
            ['signed with own device secret', 401,
             ingest($tg->{dvn}, 'stolen', secret => $secret_of{$mine})],
            ['signed with an API token', 401,
             ingest($tg->{dvn}, 'stolen', secret => $CRED{wA}{token})],
            ['with a Bearer token, unsigned', 401,
             ingest($tg->{dvn}, 'stolen', secret => undef,
                    headers => { Authorization => "Bearer $CRED{wA}{token}" })],
            ['behind a record of own device', 400,
             ingest($mine, '', secret => $secret_of{$mine}, body => json_encode([
                 { bn => "urn:dev:DVNUUID:$mine:", n => 'a', v => 1 },
                 { bn => "urn:dev:DVNUUID:$tg->{dvn}:", n => 'b', v => 2 }]))],
        );
        for my $try (@tries) {
            my ($name, $status, @res) = @$try;
            my $ok = $res[0] == $status && $FORMAT{things}->(@res[0 .. 2]);
            ok($ok, "things SenML: a pack for collection $tg->{name}'s device "
                    . "$name: $res[0]");
            my $s = $summary{things}{history}{'SenML(device A)'} ||= [0, 0];
            $s->[0] += $ok ? 1 : 0; $s->[1]++;
        }
    }
    my $after = snapshot();
    is_deeply($after, $before, 'SenML: nothing of the other collections changed');
}

# the attacker's own stream gets its own collection's messages only
{
    my $ws = IoT::WebSocket->connect(port => $t->port,
        path => "/collections/$CA->{cid}/from", token => $CRED{rA}{token});
    is($ws->{status}, 101, 'own collection stream (read-only token)');
    ingest($CV->{dvn}, 'for V only');
    ingest($CX->{dvn}, 'for X only');
    ingest($CA->{dvn}, 'for A');
    my $f = $ws->recv_frame;
    my $m = $f && json_decode($f->{payload});
    like($m ? decode_base64($m->{payload} // '') : '', qr/for A/,
         'the stream of A gets A\'s message, none of V or X before it');
    $ws->close;
    # the history is written behind the answer (docs/dataplane.md)
    my @p;
    wait_until(sub {
        my (undef, $d) = $col->call(GET => "/collections/$CA->{cid}/data"
                                           . '?limit=0',
                                    token => $CRED{rA}{token});
        @p = map { decode_base64($_->{payload}) } @{ $d->{messages} };
        return @p >= 2;
    });
    is(scalar(grep { /hello from A|for A/ } @p) . ' of ' . scalar(@p), '2 of 2',
       'own history: A\'s two messages only');
}

# ------------------------------------------------------------ revoking

sub ws_open {
    my ($path, %o) = @_;
    my $ws = IoT::WebSocket->connect(port => $t->port, path => $path, %o);
    is($ws && $ws->{status}, 101, "stream $path opened") or return undef;
    return $ws;
}

sub closed_1008 {
    my ($ws, $name) = @_;
    my $c = $ws && $ws->wait_close;
    is($c && $c->{code}, 1008, "$name: its stream closed with 1008")
        or diag(explain $c);
    $ws->close if $ws;
}

sub alive {
    my ($ws, $name) = @_;
    $ws->send_frame(opcode => PING, payload => 'here');
    my $f = $ws->recv_frame;
    ok($f && $f->{opcode} == PONG, "$name: stream still open");
}

# every form of a credential once more: each must be refused now
sub refused_everywhere {
    my ($cname, $cols, $thg, $iot, $name) = @_;
    my %args = (collections => $cols, things => $thg, iotda => $iot);
    for my $dialect (qw(collections things iotda)) {
        for my $form (grep { $_->[1] eq $cname } @{ $FORMS{$dialect} }) {
            my ($req, $expect, $project) = @{ $args{$dialect} };
            my @res = run_request($dialect, $form->[2], $req, $project);
            my $ok = (grep { $res[0] == $_ } @$expect)
                && $FORMAT{$dialect}->(@res[0 .. 2]);
            ok($ok, "$name: $dialect $form->[0] $req->{method} $req->{path} "
                    . "refused: $res[0]") or diag($res[3]);
            my $s = $summary{$dialect}{revoked}{$form->[0]} ||= [0, 0];
            $s->[0] += $ok ? 1 : 0; $s->[1]++;
        }
    }
}

# the write token deleted: its stream closes, every form is 401
{
    my $tok = $CRED{wA}{token};
    my $ws = ws_open("/collections/$CA->{cid}/from", token => $tok);
    my ($st) = $col->call(DELETE => '/tokens/' . substr($tok, 0, 12),
                          token => $U1->{token});
    is($st, 204, 'the write token deleted');
    closed_1008($ws, 'deleted token');
    refused_everywhere('wA',
        [{ method => 'GET', path => "/collections/$CA->{cid}" }, [401]],
        [{ method => 'GET', path => "/devices/$CA->{uuid}" }, [401]],
        [{ method => 'GET', path => "/devices/$CA->{iid}" }, [401],
         $T1->{teamId}], 'deleted token');
}

# the read token narrowed to one device: the collection's stream closes,
# the device's stays; the collection is refused
{
    my $tok = $CRED{rA}{token};
    my $wc = ws_open("/collections/$CA->{cid}/from?api_token=$tok");
    my $wd = ws_open("/collections/$CA->{cid}/devices/$CA->{did}/from",
                     token => $tok);
    my ($st) = $col->call(PATCH => '/tokens/' . substr($tok, 0, 12),
        body => { resource => "/collections/$CA->{cid}/devices/$CA->{did}" },
        token => $U1->{token});
    is($st, 200, 'the read token narrowed to one device');
    closed_1008($wc, 'narrowed token');
    alive($wd, 'narrowed token, its device');
    $wd->close;
    # a token narrower than a project reaches no project in the other
    # dialects (docs/things.md, docs/iotda.md)
    refused_everywhere('rA',
        [{ method => 'GET', path => "/collections/$CA->{cid}/devices" }, [403]],
        [{ method => 'GET', path => "/devices/$CA->{uuid}" }, [404]],
        [{ method => 'GET', path => "/devices/$CA->{iid}" }, [404],
         $T1->{teamId}], 'narrowed token');
}

# the access key deleted: its signatures are 401
{
    my ($st) = $t->http(DELETE => "/v3.0/OS-CREDENTIAL/credentials/$ak2",
                        headers => { 'X-Auth-Token' => $t->admin_token });
    is($st, 204, 'the access key deleted');
    refused_everywhere('k2', undef, undef,
        [{ method => 'GET', path => "/devices/$CX->{iid}" }, [401], $T2],
        'deleted access key');
}

# a member removed from the team: its stream of the team's collection
# closes; the collection is refused in every dialect
{
    my $tok = $U3->{token};
    $CRED{u3} = { token => $tok };
    for my $dialect (qw(collections things iotda)) {
        my ($ak, $sk) = access_key($tok);
        push @{ $FORMS{$dialect} },
            $dialect eq 'collections' ? ['X-API-Token(u3)', 'u3', { token => $tok }]
          : $dialect eq 'things' ? ['Bearer(u3)', 'u3', { token => $tok }]
          : (['X-Auth-Token(u3)', 'u3', { token => $tok }],
             map { ["$_(u3)", 'u3', { ak => $ak, sk => $sk,
                                      algorithm => "$_-HMAC-SHA256" }] }
                 qw(SDK V11));
    }
    my ($st) = $col->call(GET => "/collections/$CV->{cid}", token => $tok);
    is($st, 200, 'a member reaches the team\'s collection');
    my $ws = ws_open("/collections/$CV->{cid}/from", token => $tok);
    ($st) = $col->call(DELETE => "/teams/$T1->{teamId}/members/$U3->{userId}",
                       token => $U1->{token});
    is($st, 204, 'the member removed from the team');
    closed_1008($ws, 'removed member');
    refused_everywhere('u3',
        [{ method => 'GET', path => "/collections/$CV->{cid}" }, [403]],
        [{ method => 'GET', path => "/devices/$CV->{uuid}" }, [404]],
        [{ method => 'GET', path => "/devices/$CV->{iid}" }, [403],
         $T1->{teamId}], 'removed member');
}

# ------------------------------------------------------------ summary

{
    my @kinds = qw(read change stream history downlink revoked);
    my @lines = (sprintf('%-12s', '') . join('', map { sprintf '%10s', $_ } @kinds)
                 . '   credential forms');
    my ($n, $all) = (0, 0);
    for my $d (qw(collections things iotda)) {
        my %forms;
        my $row = sprintf '%-12s', $d;
        for my $k (@kinds) {
            my $f = $summary{$d}{$k} || {};
            my ($ok, $tried) = (0, 0);
            for (keys %$f) { $ok += $f->{$_}[0]; $tried += $f->{$_}[1];
                             $forms{$_} = 1 }
            $n += $ok; $all += $tried;
            $row .= sprintf '%10s', $tried ? "$ok/$tried" : '-';
        }
        push @lines, "$row   " . join(' ', sort keys %forms);
    }
    push @lines, "refused as documented: $n of $all"
                 . (@leaks ? '; NOT: ' . scalar(@leaks) : '');
    push @lines, 'rA, wA: read-only and write tokens of collection A; u2: '
        . 'a user of another team (/, write); k2: an access key of another team; '
        . 'u3: a member removed from the team (revoked only)';
    diag(join "\n", 'isolation matrix (refused/tried):', @lines,
         map { "  not refused: $_" } @leaks);
}

$t->finish;
done_testing;
