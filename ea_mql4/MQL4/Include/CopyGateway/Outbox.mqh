//+------------------------------------------------------------------+
//| Outbox.mqh -- COutbox: EA->server envelopes waiting for delivery  |
//| and, among them, the ExecutionReports not yet confirmed.          |
//|                                                                  |
//| Reports and intents (a follower's ExecutionReports, a master's   |
//| OrderIntents: what the gateway confirms) are confirmed by the    |
//| poll exchange's 200 (RemoveFront) or, on the WebSocket, by a     |
//| Receipt naming their id (Confirm); a written one waits in the    |
//| unconfirmed list and goes again first on the next connection     |
//| (RequeueUnconfirmed), with the same envelope id. Serialize() is  |
//| what the EA persists: every one not yet confirmed.               |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_OUTBOX_MQH
#define COPYGATEWAY_OUTBOX_MQH

#include <CopyGateway/MessageEncoders.mqh>

//--- the envelope id of an ExecutionReport or OrderIntent (a Receipt confirms
//--- those), "" for every other message
string CgConfirmableId(const string json)
  {
   if(StringFind(json,"\"ExecutionReport\"")<0 && StringFind(json,"\"OrderIntent\"")<0)
      return("");
   CJsonDoc doc;
   string type,id;
   if(!doc.Parse(json) || !doc.GetString(doc.Root(),"type",type) || (type!="ExecutionReport" && type!="OrderIntent"))
      return("");
   doc.GetString(doc.Root(),"id",id);
   return(id);
  }

class COutbox
  {
private:
   string            m_items[];         // encoded envelopes, in sending order
   string            m_ids[];           // per item: its id if a Receipt confirms it, else ""
   string            m_unconfirmed[];   // reports/intents written on a WebSocket, no Receipt yet
   string            m_unconfirmed_ids[]; // their envelope ids
   int               m_capacity;        // oldest items are dropped beyond this

   void              Insert(const int at,const string json)
     {
      int n=ArraySize(m_items);
      ArrayResize(m_items,n+1,64);
      ArrayResize(m_ids,n+1,64);
      for(int i=n;i>at;i--)
        {
         m_items[i]=m_items[i-1];
         m_ids[i]=m_ids[i-1];
        }
      m_items[at]=json;
      m_ids[at]=CgConfirmableId(json);
     }

public:
                     COutbox(void) : m_capacity(5000) {}
   void              SetCapacity(const int capacity) { m_capacity=(capacity>0 ? capacity : 1); }
   void              Clear(void)
     {
      ArrayResize(m_items,0);
      ArrayResize(m_ids,0);
      ArrayResize(m_unconfirmed,0);
      ArrayResize(m_unconfirmed_ids,0);
     }
   int               Count(void) const { return(ArraySize(m_items)); }
   string            At(const int index) const { return(m_items[index]); }
   int               Unconfirmed(void) const { return(ArraySize(m_unconfirmed)); }
   //--- the exchange body of the first `n` items
   string            Exchange(const int n,const long ack_seq,const int wait_ms) const
     {
      return(CgEncodeExchange(m_items,n,ack_seq,wait_ms));
     }
   //--- append; true when a report was added (outbox.json changes)
   bool              Add(const string json)
     {
      if(ArraySize(m_items)>=m_capacity)
        {
         Print("CopyGateway: outbox full, dropping the oldest message");
         RemoveFront(1);
        }
      Insert(ArraySize(m_items),json);
      return(m_ids[ArraySize(m_ids)-1]!="");
     }
   void              AddFront(const string json) { Insert(0,json); }
   //--- the first `count` items left; true when reports were among them
   bool              RemoveFront(const int count)
     {
      int n=ArraySize(m_items);
      int k=(count<n ? count : n);
      bool reports=false;
      for(int i=0;i<k;i++)
         reports=(reports || m_ids[i]!="");
      for(int i=k;i<n;i++)
        {
         m_items[i-k]=m_items[i];
         m_ids[i-k]=m_ids[i];
        }
      ArrayResize(m_items,n-k);
      ArrayResize(m_ids,n-k);
      return(reports);
     }
   //--- item `index` was written on a WebSocket: a report now waits for its Receipt
   void              Written(const int index)
     {
      if(m_ids[index]=="")
         return;
      int n=ArraySize(m_unconfirmed);
      ArrayResize(m_unconfirmed,n+1,16);
      ArrayResize(m_unconfirmed_ids,n+1,16);
      m_unconfirmed[n]=m_items[index];
      m_unconfirmed_ids[n]=m_ids[index];
     }
   //--- a Receipt named `ids` ("\n"-separated); true when a report was confirmed
   bool              Confirm(const string ids)
     {
      int kept=0;
      int n=ArraySize(m_unconfirmed);
      for(int i=0;i<n;i++)
        {
         if(StringFind("\n"+ids+"\n","\n"+m_unconfirmed_ids[i]+"\n")>=0)
            continue;
         m_unconfirmed[kept]=m_unconfirmed[i];
         m_unconfirmed_ids[kept]=m_unconfirmed_ids[i];
         kept++;
        }
      ArrayResize(m_unconfirmed,kept);
      ArrayResize(m_unconfirmed_ids,kept);
      return(kept!=n);
     }
   //--- a new connection: unconfirmed reports go first (the server dedups by command_id)
   void              RequeueUnconfirmed(void)
     {
      for(int i=ArraySize(m_unconfirmed)-1;i>=0;i--)
         Insert(0,m_unconfirmed[i]);
      ArrayResize(m_unconfirmed,0);
      ArrayResize(m_unconfirmed_ids,0);
     }
   //--- every report not yet confirmed: {"v":1,"reports":[...]}
   string            Serialize(void) const
     {
      CJsonWriter w;
      w.BeginObject();
      w.KeyInt("v",1);
      w.Key("reports");
      w.BeginArray();
      for(int i=0;i<ArraySize(m_unconfirmed);i++)
         w.Raw(m_unconfirmed[i]);
      for(int i=0;i<ArraySize(m_items);i++)
         if(m_ids[i]!="")
            w.Raw(m_items[i]);
      w.EndArray();
      w.EndObject();
      return(w.Text());
     }
   //--- queue the reports of a Serialize() text; false when unreadable
   bool              Load(const string text)
     {
      CJsonDoc doc;
      if(!doc.Parse(text))
         return(false);
      int list=doc.Find(doc.Root(),"reports");
      for(int e=doc.First(list);e>=0;e=doc.Next(e))
         if(doc.Kind(e)==JSON_OBJECT)
            Add(doc.RawText(e));
      return(true);
     }
  };

#endif
