//+------------------------------------------------------------------+
//| EaDeclaration.mqh -- CCopyGatewayEa as declared: its inputs      |
//| (SEaConfig), roles, transports, limits, members and methods.     |
//| The methods are defined in EaStateFiles.mqh, EaMessages.mqh,     |
//| EaTransport.mqh and Ea.mqh (which includes them all).            |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_EADECLARATION_MQH
#define COPYGATEWAY_EADECLARATION_MQH

#include <CopyGateway/Platform.mqh>
#include <CopyGateway/Http.mqh>
#include <CopyGateway/WsTransport.mqh>
#include <CopyGateway/Master.mqh>
#include <CopyGateway/Follower.mqh>

enum ENUM_CG_ROLE
  {
   CG_ROLE_MASTER=0,    // Master (publishes its trades)
   CG_ROLE_FOLLOWER=1   // Follower (executes copied trades)
  };

enum ENUM_CG_TRANSPORT
  {
   CG_TRANSPORT_POLL=0, // HTTPS poll via WebRequest (default)
   CG_TRANSPORT_WS=1    // WebSocket via ws2_32.dll (DLL build only, ws:// only)
  };

#define CG_MAX_BATCH     200    // envelopes per exchange request
#define CG_MAX_MESSAGE_BYTES 60000  // one envelope; the gateway refuses > 64 KiB (1009 / payload_too_large)
#define CG_MAX_BODY_BYTES 524288    // one exchange body; the gateway answers 413 beyond 1 MiB
#define CG_MAX_OUTBOX    5000   // queued envelopes kept while offline
#define CG_STATUS_MS     1000   // chart status refresh
#define CG_TICK_SLEEP_MS 500    // trade retries sleep at most this long per timer tick
                                // (and at most a quarter of the heartbeat interval)

struct SEaConfig
  {
   string            server_url;        // https://host (no trailing slash)
   int               role;              // ENUM_CG_ROLE
   string            account_id;        // "" = AccountNumber()
   string            preshared_key;     // "" = generated key file
   int               transport;         // ENUM_CG_TRANSPORT
   string            ws_url;            // ws://127.0.0.1:port/ea-gateway/v1/stream
   int               timer_ms;          // EventSetMillisecondTimer period
   int               poll_wait_ms;      // follower: server hold per poll
   int               idle_poll_ms;      // master: poll period when idle
   int               http_timeout_ms;   // WebRequest timeout (plus the hold)
   int               magic;             // magic of the follower's orders
   int               master_magic_filter; // master: -1 = every order
   double            slippage_pips;     // follower default slippage
   double            max_lots;          // follower: per order, 0 = off
   int               max_open;          // follower: open+pending, 0 = off
   string            allowed_symbols;   // comma list, "" = all
   bool              kill_switch;       // follower: no new openings
   int               max_retries;       // trade retries
   int               freeze_wait_s;     // how long a close/modify/cancel waits out FREEZELEVEL
   bool              use_os_random;     // mix RtlGenRandom into a generated key (DLL)
  };

class CCopyGatewayEa
  {
private:
   SEaConfig         m_cfg;             // inputs
   CClock            m_clock;           // epoch ms
   CFileStore        m_store;           // MQL4/Files/CopyGateway/<CgAccountFolder(account)>/
   CKeyStore         m_keys;            // session key
   CHttpClient       m_http;            // WebRequest
   CWsTransport      m_ws;              // optional WebSocket
   CSessionMachine   m_session;         // life cycle
   CInbox            m_inbox;           // server->EA routing + ack_seq
   CCommandJournal   m_journal;         // command-id dedup with stored reports
   CTicketMap        m_tickets;         // master->follower tickets
   CSafetyPolicy     m_safety;          // follower limits
   CMasterTracker    m_master;          // master snapshot diff
   CTradeExecutor    m_exec;            // follower trade execution
   string            m_account;         // account id on the wire
   string            m_key;             // session key
   COutbox           m_outbox;          // envelopes waiting for delivery, unconfirmed reports
   string            m_launch;          // per-launch id prefix
   long              m_counter;         // id counter
   long              m_next_poll_ms;    // next idle poll
   int               m_batch_limit;     // envelopes per exchange body (1 after a 413)
   long              m_next_status_ms;  // next chart status refresh
   long              m_saved_ack;       // ack_seq stored in state.json
   bool              m_snapshot_due;    // send a SyncSnapshot once InitAck arrived
   int               m_snapshot_parts;  // parts the gateway assembles (InitAck), 0 = whole only
   bool              m_stop_notified;   // the stop alert was shown
   bool              m_ws_was_open;     // WebSocket connected at least once this session
   CMessageBacklog   m_backlog;         // routed server messages not yet handled, in order
   string            m_saved_master;    // master.json as last written

   bool              IsMaster(void) const { return(m_cfg.role==CG_ROLE_MASTER); }
   string            NextId(void)
     {
      m_counter++;
      return("ea-"+m_launch+"-"+IntegerToString(m_counter));
     }
   string            Url(const string path) const { return(m_cfg.server_url+path); }

   //--- state files (EaStateFiles.mqh) ------------------------------
   void              SaveState(const long ack);
   long              LoadAck(void);
   void              SaveOutbox(void);
   void              SaveMaster(void);
   void              LoadOutbox(void);
   void              SaveFollower(void);
   void              OnDelivered(const long ack);
   void              AttachAccount(void);

   //--- messages (EaMessages.mqh) -----------------------------------
   bool              FitsTheWire(const string json);
   void              Queue(const string json);
   void              QueueFront(const string json);
   void              QueueInitRequest(void);
   void              QueueSnapshot(const string request_id);
   void              QueueHeartbeat(void);
   void              QueueAlert(const string code,const string severity,const string message,const string ref_id);
   bool              HandleCommand(const SServerMessage &m,const long now);
   bool              Handle(const SServerMessage &m,const long now);
   void              Enqueue(const SServerMessage &msgs[]);
   void              ProcessPending(const long now);

   //--- session creation and transports (EaTransport.mqh) -----------
   int               BatchSize(void);
   void              RemoveFront(const int count);
   int               WriteQueued(void);
   void              CreateSession(const long now);
   void              OnBodyTooLarge(const int n);
   void              PumpPoll(const long now);
   void              PumpWs(const long now);

   //--- life cycle (Ea.mqh) -----------------------------------------
   void              ShowStatus(const long now);
   void              HaltIfStateNotSaved(const long now);
   void              NotifyStop(void);

public:
                     CCopyGatewayEa(void) : m_counter(0),m_next_poll_ms(0),m_batch_limit(CG_MAX_BATCH),m_next_status_ms(0),m_saved_ack(-1),
                     m_snapshot_due(false),m_snapshot_parts(0),m_stop_notified(false),m_ws_was_open(false) {}

   int               Init(const SEaConfig &cfg);
   void              Deinit(const int reason);
   void              OnTimer(void);
   void              OnTick(void);
  };

#endif
