//! Users' names across nodes, in Redis.
//!
//! `sb:user:<name>` is a hash with one field per session holding the name,
//! `"<node> <session>"`, valued `x` (the session holds it alone) or `s`
//! (shared: a cloudkibo phone or an ecall user on several devices), then
//! a space and the session's call style (`rooms`, `signals`, `media_room`,
//! `messages`; Step 13), so that a node calling the user knows how it
//! calls before anything crosses: a calling invite to a one-to-one user is
//! a call.
//! `sb:names:<node>` lists the names a node's sessions hold, so that a node
//! that stops cleanly frees them at once. A holder whose node's liveness
//! key (`sb:node:<node>`, see `nodes.rs`) has expired counts for nothing:
//! a dead node's names are free as soon as it is taken for dead, with no
//! key of each name to expire. Each step is one Lua script, so two nodes
//! claiming one name at once are decided by Redis, one after the other.

use std::sync::LazyLock;

use redis::Script;
use switchboard_core::{CallStyle, SessionId, UserId};

use super::{Cluster, NodeId, Unavailable};

/// Claims a name for a session, unless a live session of another node
/// holds it and either holds or asks alone. Holders on dead nodes are
/// removed on the way. A holder on this node is left to the core to rule
/// on. Returns `""`, or the node that holds the name.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local holders = redis.call('HGETALL', KEYS[1])
for i = 1, #holders, 2 do
  local field, kind = holders[i], holders[i + 1]
  local node = string.match(field, '^(%S+)')
  if node ~= ARGV[1] then
    if redis.call('EXISTS', 'sb:node:' .. node) == 0 then
      redis.call('HDEL', KEYS[1], field)
    elseif string.sub(kind, 1, 1) == 'x' or ARGV[3] == 'x' then
      return node
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ' ' .. ARGV[4])
redis.call('SADD', KEYS[2], KEYS[1])
return ''
",
    )
});

/// Gives up one session's hold on a name.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HDEL', KEYS[1], ARGV[1])
local mine = ARGV[2] .. ' '
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #mine) == mine then return 0 end
end
redis.call('SREM', KEYS[2], KEYS[1])
return 0
",
    )
});

/// Where a name is held: this node if it is among the holders, else the
/// first live other node and that holder's call style, else `""`.
static LOCATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local found, style = '', ''
local holders = redis.call('HGETALL', KEYS[1])
for i = 1, #holders, 2 do
  local node = string.match(holders[i], '^(%S+)')
  if node == ARGV[1] then return {node, ''} end
  if found == '' and redis.call('EXISTS', 'sb:node:' .. node) == 1 then
    found = node
    style = string.match(holders[i + 1], '^%S+ (%S+)$') or ''
  end
end
return {found, style}
",
    )
});

/// Every live node but `ARGV[1]` that holds any of the names in KEYS,
/// and the call style of the first name's first holder among them (`""`
/// when none).
static LOCATE_ALL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local found, seen, style = {}, {}, ''
for k, key in ipairs(KEYS) do
  local holders = redis.call('HGETALL', key)
  for i = 1, #holders, 2 do
    local node = string.match(holders[i], '^(%S+)')
    if node ~= ARGV[1] and (seen[node] or redis.call('EXISTS', 'sb:node:' .. node) == 1) then
      if k == 1 and style == '' then style = string.match(holders[i + 1], '^%S+ (%S+)$') or '' end
      if not seen[node] then
        seen[node] = true
        table.insert(found, node)
      end
    end
  end
end
return {found, style}
",
    )
});

/// Notes that node `ARGV[1]` holds messages for an offline user, for as
/// long as they are held (`ARGV[2]` ms).
static HOLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
",
    )
});

/// Takes the list of nodes holding messages for a user.
static COLLECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local nodes = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return nodes
",
    )
});

/// Frees every name and place a node holds, and its liveness key: a
/// clean stop. With `ARGV[2] == '1'` (a node taken for dead), nothing is
/// done when the node announces itself (again): it was restarted after
/// the other node last read the live nodes, and what is there now is the
/// new process's.
static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}{}",
        "if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 1 end\n",
        super::places::LEAVE_PLACES,
        r"
local mine = ARGV[1] .. ' '
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, field in ipairs(redis.call('HKEYS', key)) do
    if string.sub(field, 1, #mine) == mine then redis.call('HDEL', key, field) end
  end
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', 'sb:nodes', ARGV[1])
return 0
"
    ))
});

/// The outcome of a claim.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This session may register the name (the core still rules on other
    /// sessions of this node).
    Granted,
    /// A session of another node holds it.
    Taken,
}

/// Where a callee is, for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    /// On this node, or nowhere: the core rules.
    Here,
    /// On another live node, with the call style of the session there
    /// (`None` when its node did not store one).
    On(NodeId, Option<CallStyle>),
    /// Redis could not be asked.
    Unknown,
}

fn user_key(user: &UserId) -> String {
    format!("sb:user:{user}")
}

fn mail_key(user: &UserId) -> String {
    format!("sb:mail:{user}")
}

fn names_key(node: &NodeId) -> String {
    format!("sb:names:{node}")
}

pub(super) fn node_key(node: &NodeId) -> String {
    format!("sb:node:{node}")
}

fn holder(node: &NodeId, session: SessionId) -> String {
    format!("{node} {session}")
}

impl Cluster {
    /// Claims `user` for `session` (see [`CLAIM`]).
    pub(crate) async fn claim(&self, user: &UserId, session: SessionId, shared: bool) -> Result<Claim, Unavailable> {
        let held_by = self.run_claim(user, session, shared).await?;
        if !held_by.is_empty() {
            return Ok(Claim::Taken);
        }
        self.claims().insert(session, (user.clone(), shared));
        Ok(Claim::Granted)
    }

    /// Notes that `session` holds `user` before Redis has it (a drawn
    /// name, which nobody else can hold).
    pub(crate) fn note_claim(&self, session: SessionId, user: UserId, shared: bool) {
        self.claims().insert(session, (user, shared));
    }

    /// Puts a drawn name, noted already, in Redis. If the session closed
    /// meanwhile (its release may have run first, and found nothing), the
    /// name is given back again.
    pub(crate) async fn claim_drawn(&self, user: &UserId, session: SessionId, shared: bool) {
        if self.run_claim(user, session, shared).await.is_ok() && self.claim_of(session).is_none() {
            self.release_name(session, user.clone()).await;
        }
    }

    /// Runs [`CLAIM`]: `""`, or the node that holds the name.
    async fn run_claim(&self, user: &UserId, session: SessionId, shared: bool) -> Result<String, Unavailable> {
        let node = self.node();
        let result: redis::RedisResult<String> = CLAIM
            .key(user_key(user))
            .key(names_key(node))
            .arg(node.as_str())
            .arg(holder(node, session))
            .arg(if shared { "s" } else { "x" })
            .arg(self.style_of(session).map_or("", CallStyle::as_str))
            .invoke_async(&mut self.redis())
            .await;
        self.heard(result)
    }

    /// Notes how `session` calls, stored with its name when it claims one:
    /// from its connection (a WebSocket dialect), or from the first event
    /// that bound its socket.io dialect, which comes before its register.
    pub(crate) fn note_style(&self, session: SessionId, style: CallStyle) {
        self.styles().insert(session, style);
    }

    /// Forgets `session`'s style: it is gone.
    pub(crate) fn forget_style(&self, session: SessionId) {
        self.styles().remove(&session);
    }

    /// The call style `session` was noted with (`None`: not noted, or gone).
    pub(crate) fn style_of(&self, session: SessionId) -> Option<CallStyle> {
        self.styles().get(&session).copied()
    }

    /// The name `session` claimed, if it holds one.
    pub(crate) fn claim_of(&self, session: SessionId) -> Option<UserId> {
        self.claims().get(&session).map(|(user, _)| user.clone())
    }

    /// Gives up `session`'s hold on its name. When Redis cannot be reached,
    /// it is tried again at each heartbeat ([`Cluster::release_again`]).
    pub(crate) async fn release(&self, session: SessionId) {
        let Some((user, _)) = self.claims().remove(&session) else { return };
        self.release_name(session, user).await;
    }

    /// Tries again the releases Redis did not take.
    pub(super) async fn release_again(&self) {
        let pending =
            std::mem::take(&mut *self.inner.unreleased.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for (session, user) in pending {
            self.release_name(session, user).await;
        }
    }

    async fn release_name(&self, session: SessionId, user: UserId) {
        let node = self.node();
        let result: redis::RedisResult<i64> = RELEASE
            .key(user_key(&user))
            .key(names_key(node))
            .arg(holder(node, session))
            .arg(node.as_str())
            .invoke_async(&mut self.redis())
            .await;
        if let Err(error) = self.heard(result) {
            // Tried again at each heartbeat until Redis answers.
            tracing::warn!(%user, %error, "could not free a name in Redis yet");
            self.inner.unreleased.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((session, user));
        }
    }

    /// Where `user` is (see [`LOCATE`]).
    pub(crate) async fn locate(&self, user: &UserId) -> Located {
        let node = self.node();
        let result: redis::RedisResult<(String, String)> =
            LOCATE.key(user_key(user)).arg(node.as_str()).invoke_async(&mut self.redis()).await;
        match self.heard(result) {
            Ok((found, _)) if found.is_empty() || found == node.as_str() => Located::Here,
            Ok((found, style)) => {
                NodeId::parse(&found).map_or(Located::Here, |node| Located::On(node, CallStyle::named(&style)))
            }
            Err(_) => Located::Unknown,
        }
    }

    /// The other live nodes that hold any of `users`: where an ecall
    /// message to a user must go, on every node its devices are on. With
    /// them, the call style of the first user's sessions there (`None`:
    /// it is on no other node, or its style is not known): a message for a
    /// user of another app is refused as the core would refuse it.
    pub(crate) async fn locate_all(&self, users: &[&UserId]) -> Result<(Vec<NodeId>, Option<CallStyle>), Unavailable> {
        let mut script = LOCATE_ALL.prepare_invoke();
        for user in users {
            script.key(user_key(user));
        }
        let result: redis::RedisResult<(Vec<String>, String)> =
            script.arg(self.node().as_str()).invoke_async(&mut self.redis()).await;
        let (nodes, style) = self.heard(result)?;
        Ok((nodes.iter().filter_map(|node| NodeId::parse(node).ok()).collect(), CallStyle::named(&style)))
    }

    /// Notes that this node holds messages for `user`, who is online
    /// nowhere, for `held_for` (the ring timeout, as long as the core keeps
    /// them).
    pub(crate) async fn note_held(&self, user: &UserId, held_for: std::time::Duration) {
        let ms = u64::try_from(held_for.as_millis()).unwrap_or(u64::MAX).max(1);
        let result: redis::RedisResult<i64> =
            HOLD.key(mail_key(user)).arg(self.node().as_str()).arg(ms).invoke_async(&mut self.redis()).await;
        let _ = self.heard(result);
    }

    /// The other nodes that hold messages for `user`, taken: each is asked
    /// to hand them over once `user` registers here.
    pub(crate) async fn take_held(&self, user: &UserId) -> Vec<NodeId> {
        let result: redis::RedisResult<Vec<String>> = COLLECT.key(mail_key(user)).invoke_async(&mut self.redis()).await;
        let nodes = self.heard(result).unwrap_or_default();
        nodes.iter().filter_map(|node| NodeId::parse(node).ok()).filter(|node| node != self.node()).collect()
    }

    /// Frees every name this node holds and its liveness key, so that
    /// other nodes see it gone at once (a clean stop).
    pub(crate) async fn leave(&self) {
        match self.purge(self.node(), false).await {
            Ok(()) => tracing::info!(node = %self.node(), "left the cluster: this node's names are free"),
            Err(error) => {
                tracing::warn!(%error, "could not leave the cluster cleanly: names free after --node-timeout")
            }
        }
    }

    /// Before this node serves: whatever a former process with this node id
    /// left in Redis (it was killed) goes, or its names would stay taken;
    /// and every live node is told this node started again
    /// ([`LinkFrame::Restarted`](super::LinkFrame::Restarted)), so that
    /// what that process's sessions had there ends, even when it was
    /// restarted too soon for the others to miss it.
    ///
    /// When Redis is unreachable, the heartbeat does it before this node
    /// first announces itself.
    pub(crate) async fn start_fresh(&self) {
        if !self.try_start_fresh().await {
            tracing::warn!("Redis is unreachable at start: this node joins the cluster once it is back");
        }
    }

    /// [`start_fresh`](Self::start_fresh)'s work, once: whether it was
    /// done (then or before).
    pub(super) async fn try_start_fresh(&self) -> bool {
        if self.inner.fresh.load(std::sync::atomic::Ordering::Relaxed) {
            return true;
        }
        let fresh = async {
            self.purge(self.node(), false).await?;
            self.live_nodes().await
        };
        let Ok(Ok(live)) = tokio::time::timeout(std::time::Duration::from_secs(2), fresh).await else { return false };
        let restarted = super::LinkFrame::Restarted { node: self.node().to_string() };
        for node in live.iter().filter(|node| *node != self.node()) {
            self.send(node, &restarted);
        }
        self.inner.fresh.store(true, std::sync::atomic::Ordering::Relaxed);
        true
    }

    /// Frees every name and place `node` holds, and its liveness key: a
    /// node leaving, or (`if_dead`) a dead node cleaned up by any other,
    /// unless it has announced itself again meanwhile.
    pub(crate) async fn purge(&self, node: &NodeId, if_dead: bool) -> Result<(), Unavailable> {
        let result: redis::RedisResult<i64> = LEAVE
            .key(names_key(node))
            .key(node_key(node))
            .key(super::places::places_key_of(node))
            .arg(node.as_str())
            .arg(if if_dead { "1" } else { "0" })
            .invoke_async(&mut self.redis())
            .await;
        self.heard(result).map(drop)
    }

    /// Claims again every name this node holds, after Redis lost them (it
    /// restarted without its data). A name another node took meanwhile
    /// stays theirs, logged.
    pub(super) async fn claim_again(&self) {
        self.pin_again().await;
        let claims: Vec<(SessionId, UserId, bool)> =
            self.claims().iter().map(|(&session, (user, shared))| (session, user.clone(), *shared)).collect();
        for (session, user, shared) in claims {
            match self.claim(&user, session, shared).await {
                Ok(Claim::Granted) => {}
                Ok(Claim::Taken) => {
                    tracing::warn!(%user, "a name this node held was claimed elsewhere while Redis was empty")
                }
                Err(_) => return,
            }
        }
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, switchboard_core::SessionMap<(UserId, bool)>> {
        self.inner.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn styles(&self) -> std::sync::MutexGuard<'_, switchboard_core::SessionMap<CallStyle>> {
        self.inner.styles.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
